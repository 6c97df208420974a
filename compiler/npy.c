/* npy.c — .npy reading and writing (format 1.0/2.0, little-endian float32/int64/uint8/..., C order). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static int parse_descr(const char *h, int *dtype)
{
    static const struct { const char *d; int t; } map[] = {
        {"'<f4'", HPK_DT_F32}, {"'<i8'", HPK_DT_I64}, {"'|u1'", HPK_DT_U8}, {"'<u1'", HPK_DT_U8},
        {"'|i1'", HPK_DT_I8},  {"'<i4'", HPK_DT_I32}, {"'<f8'", HPK_DT_F64}, {"'|b1'", HPK_DT_BOOL},
    };
    const char *p = strstr(h, "'descr'");
    if (!p)
        return -1;
    p = strchr(p + 7, ':');
    if (!p)
        return -1;
    p++;
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(p, map[i].d, strlen(map[i].d)) == 0) {
            *dtype = map[i].t;
            return 0;
        }
    return -1;
}

int hpk_npy_load(const char *path, hpk_tensor *out, hpk_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    char *h = NULL;
    int rc = HPK_EINPUT;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        hpk_err_set(err, HPK_EINPUT, "%s: not a .npy file", path);
        goto fail;
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            hpk_err_set(err, HPK_EINPUT, "%s: truncated header", path);
            goto fail;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        hpk_err_set(err, HPK_EINPUT, "%s: unsupported .npy version %d", path, pre[6]);
        goto fail;
    }
    if (hlen > 65536) {
        hpk_err_set(err, HPK_EINPUT, "%s: header of %zu bytes is too large", path, hlen);
        goto fail;
    }
    h = malloc(hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        hpk_err_set(err, HPK_EINPUT, "%s: truncated header", path);
        goto fail;
    }
    h[hlen] = 0;
    if (parse_descr(h, &out->dtype)) {
        hpk_err_set(err, HPK_EINPUT, "%s: unsupported dtype (need little-endian float32, int64, uint8, ...)", path);
        goto fail;
    }
    if (strstr(h, "'fortran_order': True")) {
        hpk_err_set(err, HPK_EINPUT, "%s: Fortran order is not supported", path);
        goto fail;
    }
    const char *s = strstr(h, "'shape'");
    s = s ? strchr(s, '(') : NULL;
    if (!s) {
        hpk_err_set(err, HPK_EINPUT, "%s: header has no shape", path);
        goto fail;
    }
    s++;
    out->rank = 0;
    for (;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *e;
        errno = 0;
        long long d = strtoll(s, &e, 10);
        if (e == s || errno || d < 0 || out->rank >= HPK_MAX_RANK) {
            hpk_err_set(err, HPK_EINPUT, "%s: bad shape in header", path);
            goto fail;
        }
        out->dims[out->rank++] = d;
        s = e;
    }
    size_t n, bytes;
    if (hpk_numel(out->rank, out->dims, &n) || __builtin_mul_overflow(n, hpk_dtype_size(out->dtype), &bytes)) {
        hpk_err_set(err, HPK_EINPUT, "%s: shape overflows", path);
        goto fail;
    }
    long pos = ftell(f);
    if (fseek(f, 0, SEEK_END) || ftell(f) - pos != (long)bytes) {
        hpk_err_set(err, HPK_EINPUT, "%s: payload size disagrees with the shape (%zu bytes expected)", path, bytes);
        goto fail;
    }
    fseek(f, pos, SEEK_SET);
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data) {
        rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory (%zu bytes)", path, bytes);
        goto fail;
    }
    if (fread(out->data, 1, bytes, f) != bytes) {
        hpk_err_set(err, HPK_EINPUT, "%s: truncated payload", path);
        goto fail;
    }
    out->nbytes = bytes;
    free(h);
    fclose(f);
    return HPK_OK;
fail:
    free(h);
    free(out->data);
    out->data = NULL;
    fclose(f);
    return err && err->code ? err->code : rc;
}

int hpk_npy_save(const char *path, const hpk_tensor *t, hpk_err *err)
{
    const char *descr;
    switch (t->dtype) {
    case HPK_DT_F32: descr = "<f4"; break;
    case HPK_DT_I64: descr = "<i8"; break;
    case HPK_DT_U8: descr = "|u1"; break;
    case HPK_DT_I32: descr = "<i4"; break;
    case HPK_DT_F64: descr = "<f8"; break;
    default: return hpk_err_set(err, HPK_EUNSUPPORTED, "%s: cannot save dtype %s", path, hpk_dtype_name(t->dtype));
    }
    char h[512];
    int k = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < t->rank; i++)
        k += snprintf(h + k, sizeof h - (size_t)k, "%lld,%s", (long long)t->dims[i], i + 1 < t->rank ? " " : "");
    k += snprintf(h + k, sizeof h - (size_t)k, "), }");
    while ((10 + k + 1) % 64)
        h[k++] = ' ';
    h[k++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 0xff), (unsigned char)(k >> 8)};
    FILE *f = fopen(path, "wb");
    if (!f)
        return hpk_err_set(err, HPK_EIO, "%s: cannot create: %s", path, strerror(errno));
    size_t n = 0;
    if (hpk_numel(t->rank, t->dims, &n)) {
        fclose(f);
        return hpk_err_set(err, HPK_EINPUT, "%s: bad shape", path);
    }
    size_t bytes = n * hpk_dtype_size(t->dtype);
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(h, 1, (size_t)k, f) != (size_t)k ||
              (bytes && fwrite(t->data, 1, bytes, f) != bytes);
    if (fclose(f) || bad)
        return hpk_err_set(err, HPK_EIO, "%s: write failed: %s", path, strerror(errno));
    return HPK_OK;
}
