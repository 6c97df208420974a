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

/* The same-size case (no resize): a gather through a per-channel table v → v * scale + bias. */
static void apply_direct(const data_xform *x, const data_image *img, const tap *cols, float *out)
{
    const int S = x->size, ic = x->in_c, oc = x->out_c;
    const size_t plane = (size_t)S * (size_t)S, stride = (size_t)x->in_w * (size_t)ic;
    float lut[3][256];
    for (int c = 0; c < oc; c++)
        for (int v = 0; v < 256; v++)
            lut[c][v] = (float)v * x->scale[c] + x->bias[c];
    for (int y = 0; y < S; y++) {
        tap ry = axis_tap(y, x->oy, x->pad, x->rh, x->in_h);
        const uint8_t *row = ry.i0 < 0 ? NULL : img->u8 + (size_t)ry.i0 * stride;
        for (int c = 0; c < oc; c++) {
            float *o = out + (size_t)c * plane + (size_t)y * (size_t)S;
            const float *lc = lut[c], b = x->bias[c];
            const uint8_t *rc = row ? row + (ic == 1 ? 0 : c) : NULL;
            for (int t = 0; t < S; t++)
                o[t] = rc && cols[t].i0 >= 0 ? lc[rc[(size_t)cols[t].i0 * (size_t)ic]] : b;
        }
    }
}

/* One source row interpolated horizontally at the output columns, planar: h[c * S + t]; 0 outside the image. */
static void hpass(const uint8_t *row, int ic, const tap *cols, int S, float *restrict h)
{
    if (ic == 1) {
        for (int t = 0; t < S; t++) {
            tap k = cols[t];
            /* a constant neighbourhood stays exactly constant: a + (b - a) w */
            h[t] = k.i0 < 0 ? 0.0f : row[k.i0] + ((float)row[k.i1] - row[k.i0]) * k.w;
        }
        return;
    }
    float *restrict h0 = h, *restrict h1 = h + S, *restrict h2 = h + 2 * S;
    for (int t = 0; t < S; t++) {
        tap k = cols[t];
        if (k.i0 < 0) {
            h0[t] = h1[t] = h2[t] = 0.0f;
            continue;
        }
        const uint8_t *a = row + 3 * (size_t)k.i0, *b = row + 3 * (size_t)k.i1;
        h0[t] = a[0] + ((float)b[0] - a[0]) * k.w;
        h1[t] = a[1] + ((float)b[1] - a[1]) * k.w;
        h2[t] = a[2] + ((float)b[2] - a[2]) * k.w;
    }
}

/* One output row of one channel: the vertical lerp of two horizontal rows, normalized. */
static void vpass(float *restrict o, const float *restrict top, const float *restrict bot, int S, float wy, float sc,
                  float b)
{
    int t = 0;
    for (; t + 4 <= S; t += 4) { /* four independent lanes: the basic-block vectorizer makes one SSE op of each */
        o[t] = (top[t] + (bot[t] - top[t]) * wy) * sc + b;
        o[t + 1] = (top[t + 1] + (bot[t + 1] - top[t + 1]) * wy) * sc + b;
        o[t + 2] = (top[t + 2] + (bot[t + 2] - top[t + 2]) * wy) * sc + b;
        o[t + 3] = (top[t + 3] + (bot[t + 3] - top[t + 3]) * wy) * sc + b;
    }
    for (; t < S; t++)
        o[t] = (top[t] + (bot[t] - top[t]) * wy) * sc + b;
}

void data_xform_apply(const data_xform *x, const data_image *img, float *out)
{
    const int S = x->size, ic = x->in_c, oc = x->out_c;
    const size_t plane = (size_t)S * (size_t)S, stride = (size_t)x->in_w * (size_t)ic;
    tap cols[XFORM_MAX_SIZE];
    for (int t = 0; t < S; t++)
        cols[t] = axis_tap(x->flip ? S - 1 - t : t, x->ox, x->pad, x->rw, x->in_w);
    if (x->rh == x->in_h && x->rw == x->in_w && !(ic == 3 && oc == 1)) {
        apply_direct(x, img, cols, out);
        return;
    }
    /* separable bilinear: rows interpolated horizontally once each (two cached), then vertically */
    static const int none = -1;
    float hbuf[2][3 * XFORM_MAX_SIZE];
    int hrow[2] = {none, none};
    for (int y = 0; y < S; y++) {
        tap ry = axis_tap(y, x->oy, x->pad, x->rh, x->in_h);
        if (ry.i0 < 0) {
            for (int c = 0; c < oc; c++) {
                float *o = out + (size_t)c * plane + (size_t)y * (size_t)S;
                for (int t = 0; t < S; t++)
                    o[t] = x->bias[c];
            }
            continue;
        }
        const float *h[2];
        int need[2] = {ry.i0, ry.i1};
        for (int k = 0; k < 2; k++) {
            int slot = hrow[0] == need[k] ? 0 : hrow[1] == need[k] ? 1 : -1;
            if (slot < 0) {
                /* replace the cached row the other need does not use */
                slot = (k == 1 && hrow[0] == need[0]) ? 1 : (hrow[1] == need[1 - k] ? 0 : k);
                hpass(img->u8 + (size_t)need[k] * stride, ic, cols, S, hbuf[slot]);
                hrow[slot] = need[k];
            }
            h[k] = hbuf[slot];
        }
        const float wy = ry.w;
        if (ic == 3 && oc == 1) {
            float *o = out + (size_t)y * (size_t)S;
            for (int t = 0; t < S; t++) {
                float v[3];
                for (int c = 0; c < 3; c++) {
                    float top = h[0][c * S + t], bot = h[1][c * S + t];
                    v[c] = top + (bot - top) * wy;
                }
                o[t] = (0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2]) * x->scale[0] + x->bias[0];
            }
            continue;
        }
        for (int c = 0; c < oc; c++) {
            float *o = out + (size_t)c * plane + (size_t)y * (size_t)S;
            vpass(o, h[0] + (ic == 1 ? 0 : c) * S, h[1] + (ic == 1 ? 0 : c) * S, S, wy, x->scale[c], x->bias[c]);
        }
    }
}
