/* fuzz_image.c — fuzz target: JPEG/PNG decoding from memory (data_image_decode, libjpeg-turbo and libpng behind
 * hpk's hardening), then hpk's transform on the decoded image.
 *
 * Invariants: a rejection is a status with a one-line message "fuzz.img: ..."; a decoded image has 1 or 3
 * channels and a size within DATA_MAX_SIDE / DATA_MAX_PIXELS, all of its pixels readable; a JPEG decoded with
 * want_short keeps its shorter side >= min(want_short, the full-size shorter side); the transform (resize, pad,
 * crop, flip, normalize; parameters drawn from the input) of a decoded image gives finite values; the scratch
 * buffers are reused across decodes like a loader thread's, and nothing leaks. */
#include <math.h>

#include "data.h"
#include "fuzz_common.h"

#define NAME "fuzz.img"
#define OUT_MAX 24

static void check_image(const data_image *img)
{
    FUZZ_CHECK(img->c == 1 || img->c == 3, "%d channels", img->c);
    FUZZ_CHECK(img->h >= 1 && img->w >= 1 && img->h <= DATA_MAX_SIDE && img->w <= DATA_MAX_SIDE &&
                   (size_t)img->h * (size_t)img->w <= DATA_MAX_PIXELS,
               "%d x %d", img->w, img->h);
    FUZZ_CHECK(!img->is_float && img->u8 && !img->f32, "not a uint8 image");
    fuzz_touch(img->u8, (size_t)img->h * (size_t)img->w * (size_t)img->c);
}

static void check_xform(const data_image *img, uint64_t h)
{
    data_loader_opts o;
    memset(&o, 0, sizeof o);
    o.augment = (int)(h & 1);
    o.flip = (int)((h >> 1) & 1);
    o.resize = (h >> 2) & 1 ? 0 : (int)(1 + (h >> 8) % 40);
    o.pad = (int)((h >> 16) % 5);
    for (int c = 0; c < 3; c++) {
        o.mean[c] = 0.5f;
        o.std[c] = 0.25f;
    }
    int out_c = (h >> 3) & 1 ? 3 : 1, size = (int)(1 + (h >> 24) % OUT_MAX);
    ir_rng r;
    ir_rng_seed(&r, h, 7);
    data_xform x;
    int rc = data_xform_plan(&x, &o, out_c, size, img->c, img->h, img->w, &r);
    FUZZ_CHECK(rc == HPK_OK, "xform plan refused %d x %d x %d", img->w, img->h, img->c);
    static float out[3 * OUT_MAX * OUT_MAX];
    data_xform_apply(&x, img, out);
    for (int i = 0; i < out_c * size * size; i++)
        FUZZ_CHECK(isfinite(out[i]), "xform output %d is not finite", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    data_scratch s = {0};
    data_image img;
    hpk_err err = {0};
    int rc = data_image_decode(data, size, 0, &s, &img, NAME, &err);
    if (rc) {
        fuzz_check_err(rc, &err, NAME);
        data_scratch_free(&s);
        return 0;
    }
    check_image(&img);
    FUZZ_NOTE("decoded: %d x %d x %d", img.w, img.h, img.c);
    uint64_t h = fuzz_hash(data, size);
    check_xform(&img, h);
    int full_short = img.h < img.w ? img.h : img.w;

    /* reduced-size decode (JPEG DCT scaling), into the same scratch */
    int want = (int)(1 + (h >> 32) % 64);
    data_image small;
    rc = data_image_decode(data, size, want, &s, &small, NAME, &err);
    FUZZ_CHECK(rc == HPK_OK, "decodes at full size but not with want_short %d: %s", want, err.msg);
    check_image(&small);
    int small_short = small.h < small.w ? small.h : small.w;
    FUZZ_CHECK(small_short >= (want < full_short ? want : full_short),
               "want_short %d: shorter side %d (full size %d)", want, small_short, full_short);
    FUZZ_CHECK(small.c == img.c, "channels %d at reduced size, %d at full size", small.c, img.c);
    data_scratch_free(&s);
    return 0;
}
