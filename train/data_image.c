/* data_image.c — JPEG (libjpeg-turbo) and PNG (libpng) decoding from memory, hardened against hostile files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_int.h"

/* Both libraries report errors by longjmp. Each decoder keeps its state in a struct that lives in the calling
 * function's frame and runs the setjmp in a separate function, so nothing the longjmp returns to is an
 * automatic variable changed after setjmp (C11 7.13.2.1). Dimensions are checked from the header, before any
 * pixel buffer exists. Warnings that mean the data is corrupt (premature end, bad Huffman code, ...) are errors:
 * the libraries would otherwise fill in gray and return a damaged image. */

static int dims_ok(unsigned long w, unsigned long h, const char *fmt, const char *name, hpk_err *err)
{
    if (w == 0 || h == 0 || w > DATA_MAX_SIDE || h > DATA_MAX_SIDE || (uint64_t)w * h > DATA_MAX_PIXELS)
        return hpk_err_set(err, HPK_EINPUT, "%s: %s of %lu x %lu pixels is beyond the limits (%d per side, %zu in all)",
                           name, fmt, w, h, DATA_MAX_SIDE, DATA_MAX_PIXELS);
    return HPK_OK;
}

#ifdef HPK_HAVE_IMAGES
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <setjmp.h>

/* ---- JPEG ---- */
#define JPEG_MAX_SCANS 500 /* progressive JPEGs with thousands of scans are a known decode-time bomb */
#define JPEG_MAX_MEMORY (256L << 20)

typedef struct jdec {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr em;
    struct jpeg_progress_mgr pm;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX + 32];
    int created;
    int code; /* set with msg when the decoder gives up outside a longjmp */
} jdec;

static void j_error_exit(j_common_ptr c)
{
    jdec *d = (jdec *)c->client_data;
    c->err->format_message(c, d->msg);
    longjmp(d->jb, 1);
}

static void j_emit_message(j_common_ptr c, int level)
{
    if (level >= 0)
        return; /* trace messages */
    jdec *d = (jdec *)c->client_data;
    c->err->num_warnings++;
    switch (c->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
        c->err->format_message(c, d->msg);
        longjmp(d->jb, 1);
    default: break; /* extraneous bytes, unknown JFIF/Adobe codes, bad ICC: the pixels are fine */
    }
}

static void j_output_message(j_common_ptr c) { (void)c; }

static void j_progress(j_common_ptr c)
{
    if (!c->is_decompressor)
        return;
    j_decompress_ptr ci = (j_decompress_ptr)c;
    if (ci->input_scan_number > JPEG_MAX_SCANS) {
        jdec *d = (jdec *)c->client_data;
        snprintf(d->msg, sizeof d->msg, "more than %d scans", JPEG_MAX_SCANS);
        longjmp(d->jb, 1);
    }
}

static int jpeg_run(jdec *d, const uint8_t *b, size_t n, int want_short, data_scratch *s, data_image *img,
                    const char *name, hpk_err *err)
{
    if (setjmp(d->jb))
        return hpk_err_set(err, HPK_EINPUT, "%s: corrupt JPEG: %s", name, d->msg);
    d->ci.err = jpeg_std_error(&d->em);
    d->em.error_exit = j_error_exit;
    d->em.emit_message = j_emit_message;
    d->em.output_message = j_output_message;
    d->ci.client_data = d; /* kept by jpeg_create_decompress, whose own failure calls j_error_exit */
    jpeg_create_decompress(&d->ci);
    d->created = 1;
    d->ci.client_data = d;
    /* progressive files keep whole-image coefficient arrays: past this, libjpeg fails (no backing store) */
    d->ci.mem->max_memory_to_use = JPEG_MAX_MEMORY;
    d->pm.progress_monitor = j_progress;
    d->ci.progress = &d->pm;
    jpeg_mem_src(&d->ci, b, (unsigned long)n);
    if (jpeg_read_header(&d->ci, TRUE) != JPEG_HEADER_OK)
        return hpk_err_set(err, HPK_EINPUT, "%s: corrupt JPEG: no image", name);
    int rc = dims_ok(d->ci.image_width, d->ci.image_height, "JPEG", name, err);
    if (rc)
        return rc;
    int cmyk = 0;
    switch (d->ci.jpeg_color_space) {
    case JCS_GRAYSCALE: d->ci.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK:
        d->ci.out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default: d->ci.out_color_space = JCS_RGB; break;
    }
    if (want_short > 0) {
        /* DCT-domain downscaling: the largest 1/d that keeps the shorter side >= want_short */
        unsigned sh = d->ci.image_width < d->ci.image_height ? d->ci.image_width : d->ci.image_height;
        unsigned den = 1;
        for (unsigned t = 8; t >= 2; t /= 2)
            if ((sh + t - 1) / t >= (unsigned)want_short) {
                den = t;
                break;
            }
        d->ci.scale_num = 1;
        d->ci.scale_denom = den;
    }
    jpeg_start_decompress(&d->ci);
    size_t w = d->ci.output_width, h = d->ci.output_height, comps = (size_t)d->ci.output_components;
    if ((comps != 1 && comps != 3 && comps != 4) || (comps == 4) != cmyk)
        return hpk_err_set(err, HPK_EINPUT, "%s: JPEG with %zu output components", name, comps);
    if ((rc = dims_ok(w, h, "JPEG", name, err)) || (rc = data_scratch_pix(s, w * h * comps, err)))
        return rc;
    while (d->ci.output_scanline < d->ci.output_height) {
        JSAMPROW row = s->pix + (size_t)d->ci.output_scanline * w * comps;
        if (jpeg_read_scanlines(&d->ci, &row, 1) != 1)
            return hpk_err_set(err, HPK_EINPUT, "%s: corrupt JPEG: no progress at row %u", name,
                               d->ci.output_scanline);
    }
    if (cmyk) {
        /* Adobe writes inverted CMYK; R = (255 - C)(255 - K)/255 on true CMYK, compacting 4 → 3 channels in place */
        int inverted = d->ci.saw_Adobe_marker;
        for (size_t p = 0; p < w * h; p++) {
            unsigned c = s->pix[4 * p], m = s->pix[4 * p + 1], y = s->pix[4 * p + 2], k = s->pix[4 * p + 3];
            if (!inverted) {
                c = 255 - c;
                m = 255 - m;
                y = 255 - y;
                k = 255 - k;
            }
            s->pix[3 * p] = (uint8_t)(c * k / 255);
            s->pix[3 * p + 1] = (uint8_t)(m * k / 255);
            s->pix[3 * p + 2] = (uint8_t)(y * k / 255);
        }
        comps = 3;
    }
    img->c = (int)comps;
    img->h = (int)h;
    img->w = (int)w;
    img->is_float = 0;
    img->u8 = s->pix;
    img->f32 = NULL;
    return HPK_OK;
}

static int decode_jpeg(const uint8_t *b, size_t n, int want_short, data_scratch *s, data_image *img,
                       const char *name, hpk_err *err)
{
    jdec d;
    memset(&d, 0, sizeof d);
    int rc = jpeg_run(&d, b, n, want_short, s, img, name, err);
    if (d.created)
        jpeg_destroy_decompress(&d.ci);
    return rc;
}

/* ---- PNG ---- */
typedef struct pdec {
    png_structp png;
    png_infop info;
    const uint8_t *b;
    size_t n, pos;
    png_bytep *rows;
    char msg[256];
} pdec;

static void p_error(png_structp png, png_const_charp m)
{
    pdec *d = png_get_error_ptr(png);
    snprintf(d->msg, sizeof d->msg, "%s", m);
    png_longjmp(png, 1);
}

static void p_warning(png_structp png, png_const_charp m)
{
    (void)png;
    (void)m;
}

static void p_read(png_structp png, png_bytep out, size_t len)
{
    pdec *d = png_get_io_ptr(png);
    if (len > d->n - d->pos)
        png_error(png, "truncated file");
    memcpy(out, d->b + d->pos, len);
    d->pos += len;
}

static int png_run(pdec *d, data_scratch *s, data_image *img, const char *name, hpk_err *err)
{
    if (setjmp(png_jmpbuf(d->png)))
        return hpk_err_set(err, HPK_EINPUT, "%s: corrupt PNG: %s", name, d->msg);
    png_set_read_fn(d->png, d, p_read);
    png_set_user_limits(d->png, DATA_MAX_SIDE, DATA_MAX_SIDE);
    png_set_chunk_cache_max(d->png, 1000);
    png_set_chunk_malloc_max(d->png, (png_alloc_size_t)16 << 20);
    png_read_info(d->png, d->info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(d->png, d->info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int rc = dims_ok(w, h, "PNG", name, err);
    if (rc)
        return rc;
    if (depth == 16)
        png_set_strip_16(d->png);
    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(d->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(d->png);
    if (depth < 8)
        png_set_packing(d->png);
    if (interlace != PNG_INTERLACE_NONE)
        png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->info);
    size_t ch = png_get_channels(d->png, d->info), rowbytes = png_get_rowbytes(d->png, d->info);
    if (ch < 1 || ch > 4 || png_get_bit_depth(d->png, d->info) != 8 || rowbytes != (size_t)w * ch)
        return hpk_err_set(err, HPK_EINPUT, "%s: PNG layout not understood (%zu channels, %zu bytes a row)", name,
                           ch, rowbytes);
    if ((rc = data_scratch_pix(s, (size_t)w * h * ch, err)))
        return rc;
    d->rows = malloc((size_t)h * sizeof *d->rows);
    if (!d->rows)
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", name);
    for (size_t y = 0; y < h; y++)
        d->rows[y] = s->pix + y * rowbytes;
    png_read_image(d->png, d->rows);
    /* drop alpha: 2 → 1, 4 → 3 channels, in place */
    size_t oc = ch >= 3 ? 3 : 1;
    if (oc != ch)
        for (size_t p = 0; p < (size_t)w * h; p++)
            for (size_t c = 0; c < oc; c++)
                s->pix[p * oc + c] = s->pix[p * ch + c];
    img->c = (int)oc;
    img->h = (int)h;
    img->w = (int)w;
    img->is_float = 0;
    img->u8 = s->pix;
    img->f32 = NULL;
    return HPK_OK;
}

static int decode_png(const uint8_t *b, size_t n, data_scratch *s, data_image *img, const char *name, hpk_err *err)
{
    pdec d;
    memset(&d, 0, sizeof d);
    d.b = b;
    d.n = n;
    d.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &d, p_error, p_warning);
    d.info = d.png ? png_create_info_struct(d.png) : NULL;
    int rc = d.info ? png_run(&d, s, img, name, err) : hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", name);
    png_destroy_read_struct(&d.png, &d.info, NULL);
    free(d.rows);
    return rc;
}
#endif

int data_image_decode(const uint8_t *bytes, size_t n, int want_short, data_scratch *s, data_image *img,
                      const char *name, hpk_err *err)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n == 0)
        return hpk_err_set(err, HPK_EINPUT, "%s: empty file", name);
    int is_jpeg = n >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff;
    int is_png = n >= 8 && memcmp(bytes, png_magic, 8) == 0;
    if (!is_jpeg && !is_png)
        return hpk_err_set(err, HPK_EINPUT, "%s: not a JPEG or PNG image", name);
#ifdef HPK_HAVE_IMAGES
    return is_jpeg ? decode_jpeg(bytes, n, want_short, s, img, name, err) : decode_png(bytes, n, s, img, name, err);
#else
    (void)want_short;
    (void)s;
    (void)img;
    (void)dims_ok;
    return hpk_err_set(err, HPK_EUNSUPPORTED, "%s: hpk was built without libjpeg/libpng (folder: datasets)", name);
#endif
}
