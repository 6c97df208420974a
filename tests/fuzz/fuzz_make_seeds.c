/* fuzz_make_seeds.c — writes the seed files that need hpk's own writers or libjpeg/libpng options PIL lacks.
 *
 * usage: fuzz_make_seeds ckpt DIR     tiny valid checkpoints from train_ckpt_serialize (seed-*.hpk)
 *        fuzz_make_seeds image DIR    arithmetic-coded, restart-marker, progressive-gray, 12x-downscalable JPEGs;
 *                                     Adam7-interlaced and 16-bit RGB PNGs (seed-c-*)
 * Deterministic output. tests/fuzz/make_seeds.py writes the other seeds; README.md says how to regenerate. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"

static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
        fprintf(stderr, "fuzz_make_seeds: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

/* ---- checkpoints ---- */
static int ckpt_seed(const char *dir, const char *name, int kind)
{
    hpk_err err = {0};
    train_ckpt_writer *w = NULL;
    if (train_ckpt_writer_init(&w, hpk_alloc_default(), &err))
        goto fail;
    static const float wv[6] = {0.5f, -1.0f, 2.0f, 0.0f, 1e-3f, 3.0f}, bv[3] = {1, 2, 3}, mv[3] = {0.1f, 0.2f, 0.3f};
    static const int64_t steps = 42;
    static const uint8_t model_bytes[5] = {8, 1, 18, 3, 'h'};
    const int64_t dw[2] = {2, 3}, db[1] = {3}, dz[2] = {0, 4}, dm[1] = {5};
    ir_rng r;
    ir_rng_seed(&r, 1234, 5);
    (void)ir_rng_normal(&r); /* leaves a spare normal in the state */
    int rc = HPK_OK;
    switch (kind) {
    case 0: /* empty: no tensors, no metadata */ break;
    case 1: /* a trainer's checkpoint in small: model, optimizer, metadata, an RNG, an ONNX blob in a free group */
        rc = train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "w", HPK_DT_F32, 2, dw, wv, &err);
        if (!rc) rc = train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "b", HPK_DT_F32, 1, db, bv, &err);
        if (!rc) rc = train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "bn.mean", HPK_DT_F32, 1, db, mv, &err);
        if (!rc) rc = train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "steps", HPK_DT_I64, 0, NULL, &steps, &err);
        if (!rc) rc = train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, "w", HPK_DT_F32, 2, dw, wv, &err);
        if (!rc) rc = train_ckpt_add_tensor(w, 5, "model.onnx", HPK_DT_U8, 1, dm, model_bytes, &err);
        if (!rc) rc = train_ckpt_add_i64(w, "step", 42, &err);
        if (!rc) rc = train_ckpt_add_i64(w, "epoch", 1, &err);
        if (!rc) rc = train_ckpt_add_f64(w, "lr", 0.05, &err);
        if (!rc) rc = train_ckpt_add_str(w, "config", "model=mobilenetv2 width=0.5\tclasses=10", &err);
        if (!rc) rc = train_ckpt_add_rng(w, "rng", &r, &err);
        break;
    case 2: /* edge shapes: an empty tensor, a scalar, a rank-8 tensor, an empty string, the same name in 2 groups */
        rc = train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "empty", HPK_DT_F32, 2, dz, NULL, &err);
        if (!rc) rc = train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, "s", HPK_DT_I64, 0, NULL, &steps, &err);
        if (!rc) {
            const int64_t d8[8] = {1, 1, 1, 1, 1, 1, 1, 5};
            rc = train_ckpt_add_tensor(w, TRAIN_CKPT_OPTIM, "s", HPK_DT_U8, 8, d8, model_bytes, &err);
        }
        if (!rc) rc = train_ckpt_add_str(w, "note", "", &err);
        break;
    case 3: /* metadata only, a non-finite float allowed through */
        train_ckpt_writer_allow_nonfinite(w, true);
        rc = train_ckpt_add_f64(w, "loss", INFINITY, &err);
        if (!rc) rc = train_ckpt_add_i64(w, "x.state", -1, &err);
        break;
    default: break;
    }
    if (rc)
        goto fail;
    void *buf = NULL;
    size_t n = 0;
    if (train_ckpt_serialize(w, &buf, &n, &err))
        goto fail;
    rc = write_file(dir, name, buf, n);
    free(buf);
    train_ckpt_writer_free(w);
    return rc;
fail:
    fprintf(stderr, "fuzz_make_seeds: %s: %s\n", name, err.msg);
    train_ckpt_writer_free(w);
    return 1;
}

#ifdef HPK_HAVE_IMAGES
#include <jpeglib.h>
#include <png.h>

/* ---- JPEG through libjpeg (jpeg_mem_dest) ---- */
static int jpeg_seed(const char *dir, const char *name, int w, int h, int gray, int arith, int restart, int prog)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr em;
    ci.err = jpeg_std_error(&em);
    jpeg_create_compress(&ci);
    unsigned char *out = NULL;
    unsigned long n = 0;
    jpeg_mem_dest(&ci, &out, &n);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = gray ? 1 : 3;
    ci.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 70, TRUE);
    ci.arith_code = arith ? TRUE : FALSE;
    ci.restart_interval = (unsigned)restart;
    if (prog)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    unsigned char *row = malloc((size_t)w * 3);
    while (ci.next_scanline < ci.image_height) {
        for (int x = 0; x < w * ci.input_components; x++)
            row[x] = (unsigned char)((x * 37 + (int)ci.next_scanline * 11) & 0xff);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&ci, &rp, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    int rc = write_file(dir, name, out, n);
    free(out);
    return rc;
}

/* ---- PNG through libpng (a FILE sink) ---- */
static int png_seed(const char *dir, const char *name, int w, int h, int ctype, int depth, int interlace)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fclose(f);
        return 1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    int ch = ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = ((size_t)w * (size_t)ch * (size_t)depth + 7) / 8;
    png_bytep img = malloc(rowbytes * (size_t)h);
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    for (int y = 0; y < h; y++) {
        rows[y] = img + (size_t)y * rowbytes;
        for (size_t x = 0; x < rowbytes; x++)
            rows[y][x] = (png_byte)((x * 13 + (size_t)y * 7) & 0xff);
    }
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(img);
    return fclose(f) != 0;
}
#endif

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_make_seeds ckpt|image DIR\n");
        return 2;
    }
    const char *dir = argv[2];
    int rc = 0;
    if (strcmp(argv[1], "ckpt") == 0) {
        rc |= ckpt_seed(dir, "seed-empty.hpk", 0);
        rc |= ckpt_seed(dir, "seed-trainer.hpk", 1);
        rc |= ckpt_seed(dir, "seed-edges.hpk", 2);
        rc |= ckpt_seed(dir, "seed-meta.hpk", 3);
        return rc;
    }
    if (strcmp(argv[1], "image") == 0) {
#ifdef HPK_HAVE_IMAGES
        rc |= jpeg_seed(dir, "seed-c-arith.jpg", 11, 7, 0, 1, 0, 0);
        rc |= jpeg_seed(dir, "seed-c-arith-progressive.jpg", 9, 9, 0, 1, 0, 1);
        rc |= jpeg_seed(dir, "seed-c-restart.jpg", 20, 10, 0, 0, 1, 0);
        rc |= jpeg_seed(dir, "seed-c-gray-progressive.jpg", 17, 5, 1, 0, 0, 1);
        rc |= jpeg_seed(dir, "seed-c-scalable.jpg", 96, 40, 0, 0, 2, 0);
        rc |= png_seed(dir, "seed-c-interlaced.png", 9, 7, PNG_COLOR_TYPE_RGB, 8, 1);
        rc |= png_seed(dir, "seed-c-interlaced-gray2.png", 5, 11, PNG_COLOR_TYPE_GRAY, 2, 1);
        rc |= png_seed(dir, "seed-c-rgb16.png", 4, 3, PNG_COLOR_TYPE_RGB, 16, 0);
        rc |= png_seed(dir, "seed-c-rgba16-interlaced.png", 3, 4, PNG_COLOR_TYPE_RGB_ALPHA, 16, 1);
        rc |= png_seed(dir, "seed-c-gray-alpha16.png", 6, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0);
#else
        fprintf(stderr, "fuzz_make_seeds: built without libjpeg/libpng\n");
        rc = 1;
#endif
        return rc;
    }
    fprintf(stderr, "usage: fuzz_make_seeds ckpt|image DIR\n");
    return 2;
}
