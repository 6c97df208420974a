/* ir_base.c — errors, allocator hooks, dtypes and shape helpers shared by every component. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

int hpk_err_set(hpk_err *err, int code, const char *fmt, ...)
{
    if (!err || err->code != HPK_OK)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* one line, whatever the names from a file hold (a checkpoint tensor called "a\nb"): controls become '?' */
    for (char *p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return code;
}

void hpk_err_clear(hpk_err *err)
{
    if (!err)
        return;
    err->code = HPK_OK;
    err->msg[0] = 0;
}

int hpk_exit_status(int code)
{
    if (code == HPK_OK)
        return 0;
    return code == HPK_EUSAGE ? 2 : 1;
}

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

hpk_alloc hpk_alloc_default(void)
{
    hpk_alloc a = {default_alloc, NULL};
    return a;
}

static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    hpk_failing_alloc *st = ud;
    (void)osize;
    if (nsize == 0) {
        if (ptr)
            st->live--;
        free(ptr);
        return NULL;
    }
    st->count++;
    if (st->fail_at > 0 && st->count == st->fail_at) {
        st->failed = 1;
        return NULL;
    }
    void *q = realloc(ptr, nsize);
    if (q && !ptr)
        st->live++;
    return q;
}

hpk_alloc hpk_alloc_failing(hpk_failing_alloc *state)
{
    hpk_alloc a = {failing_alloc, state};
    return a;
}

size_t hpk_dtype_size(int dtype)
{
    switch (dtype) {
    case HPK_DT_F32: return 4;
    case HPK_DT_U8: return 1;
    case HPK_DT_I8: return 1;
    case HPK_DT_I32: return 4;
    case HPK_DT_I64: return 8;
    case HPK_DT_BOOL: return 1;
    case HPK_DT_F64: return 8;
    default: return 0;
    }
}

const char *hpk_dtype_name(int dtype)
{
    switch (dtype) {
    case HPK_DT_F32: return "float32";
    case HPK_DT_U8: return "uint8";
    case HPK_DT_I8: return "int8";
    case HPK_DT_I32: return "int32";
    case HPK_DT_I64: return "int64";
    case HPK_DT_BOOL: return "bool";
    case HPK_DT_F64: return "float64";
    default: return "undefined";
    }
}

size_t ir_dtype_size(ir_dtype dt) { return hpk_dtype_size((int)dt); }
const char *ir_dtype_name(ir_dtype dt) { return hpk_dtype_name((int)dt); }

int hpk_numel(int rank, const int64_t *dims, size_t *out)
{
    size_t n = 1;
    if (rank < 0 || rank > HPK_MAX_RANK)
        return HPK_EINPUT;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return HPK_EINPUT;
        if (__builtin_mul_overflow(n, (size_t)dims[i], &n))
            return HPK_EINPUT;
    }
    *out = n;
    return HPK_OK;
}

ir_shape ir_shape_make(int rank, const int64_t *d)
{
    ir_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank && i < IR_MAX_RANK; i++)
        s.d[i] = d[i];
    return s;
}

bool ir_shape_eq(const ir_shape *a, const ir_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i])
            return false;
    return true;
}

bool ir_shape_concrete(const ir_shape *s)
{
    if (s->rank < 0)
        return false;
    for (int i = 0; i < s->rank; i++)
        if (s->d[i] < 0)
            return false;
    return true;
}

int ir_shape_numel(const ir_shape *s, size_t *out)
{
    return hpk_numel(s->rank, s->d, out);
}

const char *ir_shape_str(const ir_graph *g, const ir_shape *s, char *buf, size_t n)
{
    size_t k = 0;
    if (n == 0)
        return buf;
    buf[0] = 0;
    if (s->rank < 0) {
        snprintf(buf, n, "?");
        return buf;
    }
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < s->rank && k < n; i++) {
        const char *sep = i ? "," : "";
        if (s->d[i] >= 0) {
            k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)s->d[i]);
        } else {
            int64_t sym = -s->d[i] - 1;
            const char *nm = (g && sym < g->n_syms) ? g->syms[sym] : "?";
            k += (size_t)snprintf(buf + k, n - k, "%s%s", sep, nm);
        }
    }
    if (k < n)
        snprintf(buf + k, n - k, "]");
    return buf;
}
