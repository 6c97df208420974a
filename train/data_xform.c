/* data_xform.c — augmentation and preprocessing: resize, pad, random/center crop, flip, normalize, in one pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_int.h"

#define XFORM_MAX_SIZE 4096 /* data_loader_create refuses larger outputs */

/* Python's round(d / 2) for d >= 0: halves go to the even neighbour (torchvision's CenterCrop offset). */
static int round_half_even_half(int d)
{
    int q = d / 2;
    if ((d & 1) && (q & 1))
        q++;
    return q;
}

int data_xform_plan(data_xform *x, const data_loader_opts *o, int out_c, int size, int in_c, int in_h, int in_w,
                    ir_rng *r)
{
    memset(x, 0, sizeof *x);
    if (in_h < 1 || in_w < 1 || in_h > DATA_MAX_SIDE || in_w > DATA_MAX_SIDE || (in_c != 1 && in_c != 3) ||
        (out_c != 1 && out_c != 3) || size < 1 || size > XFORM_MAX_SIZE || o->resize < 0 ||
        o->resize > DATA_MAX_SIDE || o->pad < 0 || o->pad > DATA_MAX_SIDE || (o->augment && !r))
        return HPK_EINPUT;
    x->in_c = in_c;
    x->in_h = in_h;
    x->in_w = in_w;
    x->out_c = out_c;
    x->size = size;
    x->rh = in_h;
    x->rw = in_w;
    if (o->resize > 0) { /* torchvision Resize(int): the shorter side becomes R, the longer int(R * long / short) */
        int64_t R = o->resize;
        if (in_h <= in_w) {
            x->rh = (int)R;
            x->rw = (int)(R * in_w / in_h);
        } else {
            x->rw = (int)R;
            x->rh = (int)(R * in_h / in_w);
        }
    }
    x->pad = o->augment ? o->pad : 0;
    int ph = x->rh + 2 * x->pad, pw = x->rw + 2 * x->pad;
    if (o->augment) {
        x->oy = ph >= size ? (int)ir_rng_below(r, (uint32_t)(ph - size + 1))
                           : -(int)ir_rng_below(r, (uint32_t)(size - ph + 1));
        x->ox = pw >= size ? (int)ir_rng_below(r, (uint32_t)(pw - size + 1))
                           : -(int)ir_rng_below(r, (uint32_t)(size - pw + 1));
        x->flip = o->flip && ir_rng_uniform(r) < 0.5;
    } else {
        x->oy = ph >= size ? round_half_even_half(ph - size) : -((size - ph) / 2);
        x->ox = pw >= size ? round_half_even_half(pw - size) : -((size - pw) / 2);
        x->flip = 0;
    }
    for (int c = 0; c < out_c; c++) {
        float sd = o->std[c] > 0 ? o->std[c] : 1.0f;
        x->scale[c] = (float)(1.0 / (255.0 * sd));
        x->bias[c] = -o->mean[c] / sd;
    }
    return HPK_OK;
}

/* Where output coordinate t of a length-n axis samples the source: i0, i1 and the weight of i1; i0 = -1 outside
 * the image (zero padding). Bilinear with align_corners = false, as torch.nn.functional.interpolate. */
typedef struct tap {
    int i0, i1;
    float w;
} tap;

static tap axis_tap(int t, int off, int pad, int resized, int in)
{
    tap k = {-1, -1, 0};
    int rt = t + off - pad;
    if (rt < 0 || rt >= resized)
        return k;
    if (resized == in) {
        k.i0 = k.i1 = rt;
        return k;
    }
    double src = ((double)rt + 0.5) * ((double)in / (double)resized) - 0.5;
    if (src < 0)
        src = 0;
    int i0 = (int)src;
    if (i0 > in - 1)
        i0 = in - 1;
    k.i0 = i0;
    k.i1 = i0 < in - 1 ? i0 + 1 : i0;
    k.w = (float)(src - i0);
    return k;
}

void data_xform_apply(const data_xform *x, const data_image *img, float *out)
{
    const int S = x->size, ic = x->in_c, oc = x->out_c;
    const size_t plane = (size_t)S * (size_t)S, stride = (size_t)x->in_w * (size_t)ic;
    tap cols[XFORM_MAX_SIZE];
    for (int t = 0; t < S; t++)
        cols[t] = axis_tap(x->flip ? S - 1 - t : t, x->ox, x->pad, x->rw, x->in_w);
    const uint8_t *px = img->u8;
    for (int y = 0; y < S; y++) {
        tap ry = axis_tap(y, x->oy, x->pad, x->rh, x->in_h);
        float *o0 = out + (size_t)y * S;
        if (ry.i0 < 0) {
            for (int c = 0; c < oc; c++)
                for (int t = 0; t < S; t++)
                    o0[c * plane + (size_t)t] = x->bias[c];
            continue;
        }
        const uint8_t *r0 = px + (size_t)ry.i0 * stride, *r1 = px + (size_t)ry.i1 * stride;
        for (int t = 0; t < S; t++) {
            tap cx = cols[t];
            float v[3];
            if (cx.i0 < 0) {
                for (int c = 0; c < oc; c++)
                    o0[c * plane + (size_t)t] = x->bias[c];
                continue;
            }
            const size_t a = (size_t)cx.i0 * (size_t)ic, b = (size_t)cx.i1 * (size_t)ic;
            for (int c = 0; c < ic; c++) {
                /* lerps: a constant neighbourhood stays exactly constant */
                float top = r0[a + c] + ((float)r0[b + c] - r0[a + c]) * cx.w;
                float bot = r1[a + c] + ((float)r1[b + c] - r1[a + c]) * cx.w;
                v[c] = top + (bot - top) * ry.w;
            }
            if (ic == 3 && oc == 1)
                v[0] = 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
            for (int c = 0; c < oc; c++)
                o0[c * plane + (size_t)t] = v[ic == 1 ? 0 : c] * x->scale[c] + x->bias[c];
        }
    }
}
