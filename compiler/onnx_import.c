/* onnx_import.c — ONNX ModelProto to hpk IR: wire pre-scan, protobuf-c unpack through the graph's allocator, checks.
 *
 * The file is untrusted. Order of defence:
 *  1. onnx_wire_scan bounds nesting depth, every length and the decoded size before protobuf-c sees the bytes;
 *  2. protobuf-c unpacks through an allocator routed to the graph's hpk_alloc hook (failures can be injected);
 *  3. this file checks what the schema cannot: opsets, domains, ops, attribute types, tensor dtypes, dims (non-
 *     negative, checked products) against the payload size before anything is allocated, external data confined
 *     to the model's folder (no absolute paths, no '..', no symlinks in any component, no hard links, offset and
 *     length inside the file), duplicate and undefined names, topological order;
 *  4. ir_verify runs every op's shape rule, which validates attribute ranges (group, strides, pads, axes...).
 * Every error is one line "NAME: ..." naming the node or tensor; nothing reachable from the file asserts. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.h"
#include "onnx.pb-c.h"
#include "onnx_wire.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ONNX importer copies little-endian raw_data as is: port it before using a big-endian host"
#endif

#define DEF_MAX_FILE ((size_t)4 << 30)
#define DEF_MAX_NESTING 64
#define DEF_MAX_TENSOR ((size_t)2 << 30)
#define DECODE_FLOOR ((size_t)256 << 20) /* default decoded-size budget: this plus 32x the file size */
#define DECODE_RATIO 32
#define OPSET_MIN 9
#define OPSET_MAX 17
#define IR_VERSION_MIN 3 /* opset_import exists from IR version 3 */
#define IR_VERSION_MAX 11
#define MAX_IMPORT_SYMS 4096 /* distinct symbolic dims an import may create */
#define MAX_NODE_ATTRS 256 /* duplicate names are checked pairwise */
#define MAX_LOCATION 4096

/* ---- protobuf-c allocator routed through hpk_alloc (with a size header so the hook sees real sizes) ------- */

typedef struct pb_alloc_ctx {
    hpk_alloc a;
    int failed;
} pb_alloc_ctx;

#define PB_HDR 16

static void *pb_alloc(void *ud, size_t size)
{
    pb_alloc_ctx *c = ud;
    size_t total;
    if (__builtin_add_overflow(size, (size_t)PB_HDR, &total)) {
        c->failed = 1;
        return NULL;
    }
    unsigned char *p = c->a.fn(c->a.ud, NULL, 0, total);
    if (!p) {
        c->failed = 1;
        return NULL;
    }
    memcpy(p, &size, sizeof size);
    return p + PB_HDR;
}

static void pb_free(void *ud, void *ptr)
{
    pb_alloc_ctx *c = ud;
    if (!ptr)
        return;
    unsigned char *p = (unsigned char *)ptr - PB_HDR;
    size_t size;
    memcpy(&size, p, sizeof size);
    c->a.fn(c->a.ud, p, size + PB_HDR, 0);
}

/* ---- a small string -> int map (open addressing), memory through the graph's hook ------------------------ */

typedef struct strmap {
    const char **keys;
    int *vals;
    size_t cap, n;
} strmap;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void strmap_free(ir_graph *g, strmap *m)
{
    ir_dealloc(g, m->keys, sizeof(char *) * m->cap);
    ir_dealloc(g, m->vals, sizeof(int) * m->cap);
    memset(m, 0, sizeof *m);
}

static int strmap_get(const strmap *m, const char *k)
{
    if (!m->cap)
        return -1;
    for (size_t h = str_hash(k) & (m->cap - 1);; h = (h + 1) & (m->cap - 1)) {
        if (!m->keys[h])
            return -1;
        if (strcmp(m->keys[h], k) == 0)
            return m->vals[h];
    }
}

/* Inserts or overwrites; k must outlive the map. */
static int strmap_put(ir_graph *g, strmap *m, const char *k, int v)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        const char **nk = ir_alloc(g, sizeof(char *) * nc);
        int *nv = ir_alloc(g, sizeof(int) * nc);
        if (!nk || !nv) {
            ir_dealloc(g, nk, sizeof(char *) * nc);
            ir_dealloc(g, nv, sizeof(int) * nc);
            return HPK_ENOMEM;
        }
        memset(nk, 0, sizeof(char *) * nc);
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t h = str_hash(m->keys[i]) & (nc - 1);
            while (nk[h])
                h = (h + 1) & (nc - 1);
            nk[h] = m->keys[i];
            nv[h] = m->vals[i];
        }
        ir_dealloc(g, m->keys, sizeof(char *) * m->cap);
        ir_dealloc(g, m->vals, sizeof(int) * m->cap);
        m->keys = nk;
        m->vals = nv;
        m->cap = nc;
    }
    size_t h = str_hash(k) & (m->cap - 1);
    while (m->keys[h] && strcmp(m->keys[h], k) != 0)
        h = (h + 1) & (m->cap - 1);
    if (!m->keys[h])
        m->n++;
    m->keys[h] = k;
    m->vals[h] = v;
    return HPK_OK;
}

/* ---- the import context --------------------------------------------------------------------------------- */

typedef struct imp {
    ir_graph *g;
    const Onnx__ModelProto *mp;
    const Onnx__GraphProto *gp;
    const char *base_dir; /* NULL: external data refused */
    size_t max_tensor;
    hpk_err *e;           /* the unprefixed error; the caller adds "NAME: " */
    int *src;             /* per value id: index of the ONNX node producing it, -1 if none */
    size_t n_src;
    const char **node_names; /* per ONNX node: its name, synthesized if the file has none */
    int *ids;                /* scratch for a node's input/output ids */
    size_t n_ids;
    strmap names, syms;
    int n_import_syms;
} imp;

#define S(x) ((x) ? (x) : "")

static const char *onnx_dtype_name(int32_t t)
{
    switch (t) {
    case 0: return "undefined";
    case 1: return "float32";
    case 2: return "uint8";
    case 3: return "int8";
    case 4: return "uint16";
    case 5: return "int16";
    case 6: return "int32";
    case 7: return "int64";
    case 8: return "string";
    case 9: return "bool";
    case 10: return "float16";
    case 11: return "float64";
    case 12: return "uint32";
    case 13: return "uint64";
    case 14: return "complex64";
    case 15: return "complex128";
    case 16: return "bfloat16";
    default: return "unknown";
    }
}

static bool dtype_from_onnx(int32_t t, ir_dtype *dt)
{
    switch (t) {
    case 1: *dt = IR_DT_F32; return true;
    case 2: *dt = IR_DT_U8; return true;
    case 3: *dt = IR_DT_I8; return true;
    case 6: *dt = IR_DT_I32; return true;
    case 7: *dt = IR_DT_I64; return true;
    case 9: *dt = IR_DT_BOOL; return true;
    case 11: *dt = IR_DT_F64; return true;
    default: return false;
    }
}

/* Strict decimal parse of a non-negative integer that fits int64. */
static bool parse_u63(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
        if (v > (uint64_t)INT64_MAX)
            return false;
    }
    *out = v;
    return true;
}

/* ---- external data ----------------------------------------------------------------------------------------- */

typedef struct ext_ref {
    const char *location;
    uint64_t offset, length;
    bool has_length;
} ext_ref;

static int ext_parse(imp *m, const Onnx__TensorProto *tp, const char *ctx, ext_ref *r)
{
    memset(r, 0, sizeof *r);
    bool has_off = false;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        const char *k = S(kv->key), *v = S(kv->value);
        if (strcmp(k, "location") == 0) {
            if (r->location)
                return hpk_err_set(m->e, HPK_EINPUT, "%s: external data gives 'location' twice", ctx);
            r->location = v;
        } else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
            bool is_off = k[0] == 'o';
            uint64_t x;
            if (is_off ? has_off : r->has_length)
                return hpk_err_set(m->e, HPK_EINPUT, "%s: external data gives '%s' twice", ctx, k);
            if (!parse_u63(v, &x))
                return hpk_err_set(m->e, HPK_EINPUT, "%s: external data %s '%.40s' is not a non-negative 63-bit "
                                   "integer", ctx, k, v);
            if (is_off) {
                r->offset = x;
                has_off = true;
            } else {
                r->length = x;
                r->has_length = true;
            }
        } /* "checksum" and unknown keys carry nothing hpk needs */
    }
    if (!r->location || !*r->location)
        return hpk_err_set(m->e, HPK_EINPUT, "%s: external data has no 'location'", ctx);
    const char *loc = r->location;
    if (strlen(loc) >= MAX_LOCATION)
        return hpk_err_set(m->e, HPK_EINPUT, "%s: external data location is longer than %d bytes", ctx,
                           MAX_LOCATION - 1);
    if (loc[0] == '/')
        return hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s' is an absolute path (only "
                           "files inside the model's folder are read)", ctx, loc);
    if (strchr(loc, '\\'))
        return hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s' contains a backslash", ctx, loc);
    for (const char *c = loc; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s' has a '..' component "
                               "(only files inside the model's folder are read)", ctx, loc);
        c += len;
        if (*c == '/')
            c++;
    }
    return HPK_OK;
}

/* Opens the external file component by component under base_dir, refusing symlinks anywhere, anything but a
 * regular file with one link, and offset/length outside it. On success *fd is open and *off is the offset. */
static int ext_open(imp *m, const ext_ref *r, const char *ctx, size_t bytes, int *fd_out, uint64_t *off)
{
    char path[MAX_LOCATION];
    int rc = HPK_OK, fd = -1;
    struct stat st;
    const char *loc = r->location;
    *fd_out = -1;
    if (!m->base_dir)
        return hpk_err_set(m->e, HPK_EINPUT, "%s: external data '%.160s' is refused (the model was not loaded "
                           "from a folder)", ctx, loc);
    snprintf(path, sizeof path, "%s", loc);
    int dfd = open(m->base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return hpk_err_set(m->e, HPK_EIO, "%s: cannot open the model's folder '%.160s': %s", ctx, m->base_dir,
                           strerror(errno));
    char *c = path;
    for (;;) {
        char *slash = strchr(c, '/');
        if (slash)
            *slash = 0;
        bool last = !slash || slash[1] == 0;
        if (slash && slash[1] == 0) {
            rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s' names a folder", ctx, loc);
            goto done;
        }
        if (*c == 0 || strcmp(c, ".") == 0) {
            if (last) {
                rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s' names a folder", ctx, loc);
                goto done;
            }
            c = slash + 1;
            continue;
        }
        if (fstatat(dfd, c, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data file '%.160s' cannot be found ('%.80s': %s)", ctx,
                             loc, c, strerror(errno));
            goto done;
        }
        if (S_ISLNK(st.st_mode)) {
            rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s' goes through a symlink "
                             "('%.80s'); symlinks are refused because they can leave the model's folder", ctx, loc, c);
            goto done;
        }
        if (!last) {
            if (!S_ISDIR(st.st_mode)) {
                rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s': '%.80s' is not a folder",
                                 ctx, loc, c);
                goto done;
            }
            int nfd = openat(dfd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nfd < 0) {
                rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data location '%.160s': cannot open '%.80s': %s",
                                 ctx, loc, c, strerror(errno));
                goto done;
            }
            close(dfd);
            dfd = nfd;
            c = slash + 1;
            continue;
        }
        /* O_NOFOLLOW: a symlink swapped in after the fstatat still fails; O_NONBLOCK: a FIFO cannot hang us */
        fd = openat(dfd, c, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            rc = hpk_err_set(m->e, HPK_EINPUT, "%s: cannot open external data file '%.160s': %s", ctx, loc,
                             strerror(errno));
            goto done;
        }
        break;
    }
    if (fstat(fd, &st) != 0) {
        rc = hpk_err_set(m->e, HPK_EIO, "%s: cannot stat external data file '%.160s': %s", ctx, loc,
                         strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data '%.160s' is not a regular file", ctx, loc);
        goto done;
    }
    if (st.st_nlink > 1) {
        rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data file '%.160s' has %llu hard links (a hard link can "
                         "expose a file from outside the model's folder)", ctx, loc, (unsigned long long)st.st_nlink);
        goto done;
    }
    uint64_t size = st.st_size > 0 ? (uint64_t)st.st_size : 0, length, end;
    if (r->offset > size) {
        rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data offset %llu is past the end of '%.160s' (%llu bytes)",
                         ctx, (unsigned long long)r->offset, loc, (unsigned long long)size);
        goto done;
    }
    length = r->has_length ? r->length : size - r->offset;
    if (__builtin_add_overflow(r->offset, length, &end) || end > size) {
        rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data offset %llu + length %llu runs past the end of "
                         "'%.160s' (%llu bytes)", ctx, (unsigned long long)r->offset, (unsigned long long)length,
                         loc, (unsigned long long)size);
        goto done;
    }
    if (length != bytes) {
        rc = hpk_err_set(m->e, HPK_EINPUT, "%s: external data length %llu does not match the tensor's %zu bytes",
                         ctx, (unsigned long long)length, bytes);
        goto done;
    }
    *off = r->offset;
    *fd_out = fd;
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    close(dfd);
    return rc;
}

static int ext_read(imp *m, int fd, uint64_t off, void *dst, size_t bytes, const char *ctx, const char *loc)
{
    size_t got = 0;
    while (got < bytes) {
        ssize_t r = pread(fd, (char *)dst + got, bytes - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return hpk_err_set(m->e, HPK_EIO, "%s: reading external data '%.160s' failed at byte %llu: %s", ctx, loc,
                               (unsigned long long)(off + got), r < 0 ? strerror(errno) : "unexpected end of file");
        got += (size_t)r;
    }
    return HPK_OK;
}

/* ---- tensors ---------------------------------------------------------------------------------------------- */

/* Decodes a TensorProto into a new graph-owned tensor. ctx names it in messages ("initializer 'w'"). Every
 * size is checked against the payload before anything is allocated. */
static int tensor_decode(imp *m, const Onnx__TensorProto *tp, const char *ctx, ir_tensor **out)
{
    ir_dtype dt;
    ir_shape shape;
    size_t numel = 1, bytes;
    *out = NULL;
    if (!tp->has_data_type)
        return hpk_err_set(m->e, HPK_EINPUT, "%s: tensor has no data_type", ctx);
    if (!dtype_from_onnx(tp->data_type, &dt))
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "%s: dtype %s (%d) is not supported (hpk handles float32, "
                           "float64, int64, int32, int8, uint8, bool)", ctx, onnx_dtype_name(tp->data_type),
                           (int)tp->data_type);
    if (tp->n_dims > IR_MAX_RANK)
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "%s: rank %zu is more than hpk's maximum %d", ctx, tp->n_dims,
                           IR_MAX_RANK);
    shape.rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return hpk_err_set(m->e, HPK_EINPUT, "%s: dim %zu is negative (%lld)", ctx, i, (long long)tp->dims[i]);
        shape.d[i] = tp->dims[i];
        if (__builtin_mul_overflow(numel, (uint64_t)tp->dims[i], &numel))
            return hpk_err_set(m->e, HPK_EINPUT, "%s: the product of the dims overflows", ctx);
    }
    if (__builtin_mul_overflow(numel, ir_dtype_size(dt), &bytes))
        return hpk_err_set(m->e, HPK_EINPUT, "%s: the byte size (%zu elements of %s) overflows", ctx, numel,
                           ir_dtype_name(dt));
    if (bytes > m->max_tensor)
        return hpk_err_set(m->e, HPK_ENOMEM, "%s: %zu bytes is more than the per-tensor limit of %zu bytes", ctx,
                           bytes, m->max_tensor);
    if (tp->segment)
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "%s: segmented tensors are not supported", ctx);
    if (tp->has_data_location && tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT &&
        tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return hpk_err_set(m->e, HPK_EINPUT, "%s: invalid data_location %d", ctx, (int)tp->data_location);
    bool external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;

    /* where the values are: exactly one source (or none for an empty tensor) */
    struct {
        const char *name;
        size_t count;
    } src[] = {{"raw_data", tp->has_raw_data ? tp->raw_data.len : 0},
               {"float_data", tp->n_float_data},
               {"int32_data", tp->n_int32_data},
               {"int64_data", tp->n_int64_data},
               {"double_data", tp->n_double_data},
               {"uint64_data", tp->n_uint64_data},
               {"string_data", tp->n_string_data}};
    int nsrc = 0, which = -1;
    for (int i = 0; i < (int)(sizeof src / sizeof src[0]); i++)
        if (src[i].count || (i == 0 && tp->has_raw_data)) {
            if (nsrc++ == 0)
                which = i;
            else
                return hpk_err_set(m->e, HPK_EINPUT, "%s: data in both %s and %s", ctx, src[which].name,
                                   src[i].name);
        }
    if (external && nsrc)
        return hpk_err_set(m->e, HPK_EINPUT, "%s: data_location is EXTERNAL but %s is also set", ctx,
                           src[which].name);
    if (!external && tp->n_external_data)
        return hpk_err_set(m->e, HPK_EINPUT, "%s: external_data is given but data_location is not EXTERNAL", ctx);
    const char *want = dt == IR_DT_F32 ? "float_data" : dt == IR_DT_F64 ? "double_data" :
                       dt == IR_DT_I64 ? "int64_data" : "int32_data";
    if (!external) {
        if (which == 0) {
            if (tp->raw_data.len != bytes)
                return hpk_err_set(m->e, HPK_EINPUT, "%s: raw_data has %zu bytes but dims %s x %s need %zu", ctx,
                                   tp->raw_data.len, ir_shape_str(NULL, &shape, (char[96]){0}, 96),
                                   ir_dtype_name(dt), bytes);
        } else if (which > 0) {
            if (strcmp(src[which].name, want) != 0)
                return hpk_err_set(m->e, HPK_EINPUT, "%s: a tensor of dtype %s keeps its values in %s, not %s", ctx,
                                   ir_dtype_name(dt), want, src[which].name);
            if (src[which].count != numel)
                return hpk_err_set(m->e, HPK_EINPUT, "%s: %s has %zu values but dims %s need %zu", ctx,
                                   src[which].name, src[which].count, ir_shape_str(NULL, &shape, (char[96]){0}, 96),
                                   numel);
        } else if (numel) {
            return hpk_err_set(m->e, HPK_EINPUT, "%s: tensor of %zu elements has no data", ctx, numel);
        }
        if (dt == IR_DT_I8 || dt == IR_DT_U8 || dt == IR_DT_BOOL)
            for (size_t i = 0; which == 2 && i < numel; i++) {
                int32_t v = tp->int32_data[i];
                bool ok = dt == IR_DT_I8 ? v >= -128 && v <= 127 : dt == IR_DT_U8 ? v >= 0 && v <= 255 : v == 0 || v == 1;
                if (!ok)
                    return hpk_err_set(m->e, HPK_EINPUT, "%s: int32_data value %d (element %zu) is out of range for "
                                       "%s", ctx, (int)v, i, ir_dtype_name(dt));
            }
    }

    ext_ref ref;
    int fd = -1;
    uint64_t off = 0;
    int rc;
    if (external && ((rc = ext_parse(m, tp, ctx, &ref)) || (rc = ext_open(m, &ref, ctx, bytes, &fd, &off))))
        return rc;
    /* every size is now known to agree with the payload: allocating `bytes` is safe */
    hpk_err e2 = {0};
    ir_tensor *t = ir_tensor_new(m->g, dt, &shape, &e2);
    if (!t) {
        if (fd >= 0)
            close(fd);
        return hpk_err_set(m->e, e2.code, "%s: %s", ctx, e2.msg);
    }
    if (external) {
        rc = ext_read(m, fd, off, t->data, bytes, ctx, ref.location);
        close(fd);
        if (rc) {
            ir_tensor_free(m->g, t);
            return rc;
        }
    } else if (which == 0) {
        if (bytes)
            memcpy(t->data, tp->raw_data.data, bytes);
    } else if (which > 0) {
        switch (dt) {
        case IR_DT_F32: memcpy(t->data, tp->float_data, bytes); break;
        case IR_DT_F64: memcpy(t->data, tp->double_data, bytes); break;
        case IR_DT_I64: memcpy(t->data, tp->int64_data, bytes); break;
        case IR_DT_I32: memcpy(t->data, tp->int32_data, bytes); break;
        case IR_DT_I8:
            for (size_t i = 0; i < numel; i++)
                ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i];
            break;
        default: /* uint8, bool */
            for (size_t i = 0; i < numel; i++)
                ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i];
            break;
        }
    }
    *out = t;
    return HPK_OK;
}

/* ---- types and symbols ------------------------------------------------------------------------------------- */

/* The symbol for a dim_param name (NULL: a fresh anonymous one). HPK_EINPUT past MAX_IMPORT_SYMS, HPK_ENOMEM;
 * no message: the caller names the value. */
static int sym_new(imp *m, const char *name, int64_t *d)
{
    char buf[32];
    int id = name ? strmap_get(&m->syms, name) : -1;
    if (id >= 0) {
        *d = -(int64_t)id - 1;
        return HPK_OK;
    }
    if (m->n_import_syms >= MAX_IMPORT_SYMS)
        return HPK_EINPUT;
    if (!name) { /* anonymous: the same "?<k>" scheme as ir_infer_unknown_dim */
        snprintf(buf, sizeof buf, "?%d", m->g->n_syms);
        id = ir_sym_get(m->g, buf);
    } else {
        id = ir_sym_get(m->g, name);
    }
    if (id < 0 || (name && strmap_put(m->g, &m->syms, m->g->syms[id], id)))
        return HPK_ENOMEM;
    m->n_import_syms++;
    *d = -(int64_t)id - 1;
    return HPK_OK;
}

/* Decodes a tensor TypeProto. strict: errors for anything hpk cannot represent; otherwise returns HPK_EINPUT
 * without a message (the caller ignores the entry) and never creates anonymous symbols. HPK_ENOMEM always comes
 * with a message. */
static int type_decode(imp *m, const Onnx__TypeProto *tp, const char *ctx, bool strict, ir_dtype *dt, ir_shape *s)
{
    *dt = IR_DT_UNDEF;
    s->rank = -1;
#define TFAIL(code, ...) return strict ? hpk_err_set(m->e, code, __VA_ARGS__) : HPK_EINPUT
    if (!tp)
        TFAIL(HPK_EINPUT, "%s has no type", ctx);
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        TFAIL(HPK_EUNSUPPORTED, "%s is not a tensor (sequence, map, optional and sparse types are not supported)",
              ctx);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (!tt->has_elem_type || tt->elem_type == 0)
        TFAIL(HPK_EINPUT, "%s has no element type", ctx);
    if (!dtype_from_onnx(tt->elem_type, dt))
        TFAIL(HPK_EUNSUPPORTED, "%s: dtype %s (%d) is not supported", ctx, onnx_dtype_name(tt->elem_type),
              (int)tt->elem_type);
    if (!tt->shape)
        return HPK_OK;
    if (tt->shape->n_dim > IR_MAX_RANK)
        TFAIL(HPK_EUNSUPPORTED, "%s: rank %zu is more than hpk's maximum %d", ctx, tt->shape->n_dim, IR_MAX_RANK);
    ir_shape r;
    r.rank = (int)tt->shape->n_dim;
    for (int i = 0; i < r.rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
        int rc;
        if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dm->dim_value < 0)
                TFAIL(HPK_EINPUT, "%s: dim %d is negative (%lld)", ctx, i, (long long)dm->dim_value);
            r.d[i] = dm->dim_value;
            continue;
        }
        bool named = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dm->dim_param &&
                     dm->dim_param[0] && dm->dim_param[0] != '?';
        if (!named && !strict)
            return HPK_EINPUT;
        if ((rc = sym_new(m, named ? dm->dim_param : NULL, &r.d[i]))) {
            if (rc == HPK_ENOMEM)
                return hpk_err_set(m->e, rc, "%s: out of memory adding a symbolic dimension", ctx);
            TFAIL(rc, "%s: more than %d symbolic dimensions in the model", ctx, MAX_IMPORT_SYMS);
        }
    }
#undef TFAIL
    *s = r;
    return HPK_OK;
}

/* ---- nodes and attributes ------------------------------------------------------------------------------- */

static int attr_decode(imp *m, const char *nn, const char *opn, const Onnx__AttributeProto *ap, size_t k, ir_attr *a)
{
    ir_graph *g = m->g;
    char ctx[400];
    memset(a, 0, sizeof *a);
    if (!ap->name || !ap->name[0])
        return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (%s): attribute %zu has no name", nn, opn, k);
    snprintf(ctx, sizeof ctx, "node '%.160s' (%s): attribute '%.80s'", nn, opn, ap->name);
    if (ap->ref_attr_name && ap->ref_attr_name[0])
        return hpk_err_set(m->e, HPK_EINPUT, "%s refers to a function attribute, which is only valid inside "
                           "functions", ctx);
    if (!ap->has_type)
        return hpk_err_set(m->e, HPK_EINPUT, "%s has no type", ctx);
    if (!(a->name = ir_strdup(g, ap->name)))
        return hpk_err_set(m->e, HPK_ENOMEM, "out of memory reading %s", ctx);
    switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = IR_ATTR_FLOAT;
        a->f = ap->f;
        return HPK_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = IR_ATTR_INT;
        a->i = ap->i;
        return HPK_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->type = IR_ATTR_STRING;
        a->s_len = ap->s.len;
        if (!(a->s = ir_strndup(g, ap->s.len ? (const char *)ap->s.data : "", ap->s.len)))
            return hpk_err_set(m->e, HPK_ENOMEM, "out of memory reading %s", ctx);
        return HPK_OK;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (!ap->t)
            return hpk_err_set(m->e, HPK_EINPUT, "%s is of type TENSOR but holds no tensor", ctx);
        a->type = IR_ATTR_TENSOR;
        return tensor_decode(m, ap->t, ctx, &a->t);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: {
        size_t cnt = ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS ? ap->n_floats :
                     ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS ? ap->n_ints : ap->n_strings;
        if (cnt > (size_t)INT_MAX / 8)
            return hpk_err_set(m->e, HPK_EINPUT, "%s has %zu entries, too many", ctx, cnt);
        a->n = (int)cnt;
        if (ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS) {
            a->type = IR_ATTR_FLOATS;
            if (!(a->floats = ir_arena_alloc(g, sizeof(float) * (cnt ? cnt : 1))))
                return hpk_err_set(m->e, HPK_ENOMEM, "out of memory reading %s", ctx);
            if (cnt)
                memcpy(a->floats, ap->floats, sizeof(float) * cnt);
        } else if (ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) {
            a->type = IR_ATTR_INTS;
            if (!(a->ints = ir_arena_alloc(g, sizeof(int64_t) * (cnt ? cnt : 1))))
                return hpk_err_set(m->e, HPK_ENOMEM, "out of memory reading %s", ctx);
            if (cnt)
                memcpy(a->ints, ap->ints, sizeof(int64_t) * cnt);
        } else {
            a->type = IR_ATTR_STRINGS;
            if (!(a->strings = ir_arena_alloc(g, sizeof(char *) * (cnt ? cnt : 1))))
                return hpk_err_set(m->e, HPK_ENOMEM, "out of memory reading %s", ctx);
            for (size_t i = 0; i < cnt; i++)
                if (!(a->strings[i] = ir_strndup(g, ap->strings[i].len ? (const char *)ap->strings[i].data : "",
                                                 ap->strings[i].len)))
                    return hpk_err_set(m->e, HPK_ENOMEM, "out of memory reading %s", ctx);
        }
        return HPK_OK;
    }
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "%s holds a graph: control flow (subgraphs) is not supported",
                           ctx);
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "%s has attribute type %d, which is not supported", ctx,
                           (int)ap->type);
    default:
        return hpk_err_set(m->e, HPK_EINPUT, "%s has an invalid type %d", ctx, (int)ap->type);
    }
}

/* A Constant node becomes an initializer holding its value under the node's output name. */
static int constant_import(imp *m, const Onnx__NodeProto *np, const char *nn, int out)
{
    char ctx[400];
    ir_tensor *t = NULL;
    int rc;
    if (out < 0)
        return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (Constant): the output has no name", nn);
    if (np->n_attribute != 1)
        return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (Constant): needs exactly one value attribute, got %zu",
                           nn, np->n_attribute);
    const Onnx__AttributeProto *ap = np->attribute[0];
    const char *an = S(ap->name);
    snprintf(ctx, sizeof ctx, "node '%.160s' (Constant): attribute '%.80s'", nn, an);
    int want = strcmp(an, "value") == 0         ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR :
               strcmp(an, "value_float") == 0   ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT :
               strcmp(an, "value_floats") == 0  ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS :
               strcmp(an, "value_int") == 0     ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT :
               strcmp(an, "value_ints") == 0    ? ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS : -1;
    if (want < 0) {
        bool known = strcmp(an, "value_string") == 0 || strcmp(an, "value_strings") == 0 ||
                     strcmp(an, "sparse_value") == 0;
        return hpk_err_set(m->e, known ? HPK_EUNSUPPORTED : HPK_EINPUT, "%s is %s", ctx,
                           known ? "not supported" : "not a Constant attribute");
    }
    if (!ap->has_type || (int)ap->type != want)
        return hpk_err_set(m->e, HPK_EINPUT, "%s has the wrong type (%d)", ctx, ap->has_type ? (int)ap->type : 0);
    if (want == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) {
        if (!ap->t)
            return hpk_err_set(m->e, HPK_EINPUT, "%s holds no tensor", ctx);
        if ((rc = tensor_decode(m, ap->t, ctx, &t)))
            return rc;
    } else {
        bool fl = want == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT || want == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        bool list = want == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS || want == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        size_t cnt = list ? (fl ? ap->n_floats : ap->n_ints) : 1;
        ir_shape s = {list ? 1 : 0, {(int64_t)cnt}};
        hpk_err e2 = {0};
        if (cnt > (size_t)INT_MAX / 8)
            return hpk_err_set(m->e, HPK_EINPUT, "%s has %zu entries, too many", ctx, cnt);
        if (!(t = ir_tensor_new(m->g, fl ? IR_DT_F32 : IR_DT_I64, &s, &e2)))
            return hpk_err_set(m->e, e2.code, "%s: %s", ctx, e2.msg);
        if (list && cnt)
            memcpy(t->data, fl ? (const void *)ap->floats : (const void *)ap->ints, t->nbytes);
        else if (!list && fl)
            memcpy(t->data, &ap->f, sizeof(float));
        else if (!list)
            memcpy(t->data, &ap->i, sizeof(int64_t));
    }
    ir_value *v = &m->g->values[out];
    v->init = t;
    v->dtype = t->dtype;
    v->shape = t->shape;
    m->src[out] = -1;
    return HPK_OK;
}

static bool is_default_domain(const char *d)
{
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

static int node_import(imp *m, size_t i)
{
    ir_graph *g = m->g;
    const Onnx__NodeProto *np = m->gp->node[i];
    const char *nn = m->node_names[i];
    const char *opn = S(np->op_type);
    int rc;
    if (!opn[0])
        return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' has no op_type", nn);
    if (!is_default_domain(np->domain)) {
        bool imported = false;
        for (size_t k = 0; k < m->mp->n_opset_import && !imported; k++)
            imported = strcmp(S(m->mp->opset_import[k]->domain), np->domain) == 0;
        return hpk_err_set(m->e, imported ? HPK_EUNSUPPORTED : HPK_EINPUT,
                           "node '%.160s': op '%.80s' of domain '%.80s' %s", nn, opn, np->domain,
                           imported ? "is not supported (hpk handles the default ONNX domain only)"
                                    : "uses a domain the model does not import in opset_import");
    }
    int op = ir_op_lookup("", opn);
    if (op < 0 || (ir_op_table[op].flags & IR_OPF_INTERNAL))
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "node '%.160s': unsupported op '%.80s'", nn, opn);
    const ir_op_info *info = &ir_op_table[op];
    if (np->n_input < (size_t)info->min_in || np->n_input > (size_t)info->max_in ||
        np->n_output < (size_t)info->min_out || np->n_output > (size_t)info->max_out)
        return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (%s): %zu inputs and %zu outputs, expected %d-%d and %d-%d",
                           nn, opn, np->n_input, np->n_output, info->min_in, info->max_in, info->min_out,
                           info->max_out);
    size_t need = np->n_input + np->n_output;
    if (need > m->n_ids) {
        int *nb = ir_realloc(g, m->ids, sizeof(int) * m->n_ids, sizeof(int) * need);
        if (!nb)
            return hpk_err_set(m->e, HPK_ENOMEM, "out of memory importing node '%.160s'", nn);
        m->ids = nb;
        m->n_ids = need;
    }
    int *in = m->ids, *out = m->ids + np->n_input;
    for (size_t j = 0; j < np->n_input; j++) {
        const char *vn = S(np->input[j]);
        if (!vn[0]) {
            in[j] = -1;
            continue;
        }
        int v = ir_graph_find(g, vn);
        if (v < 0)
            return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (%s): input '%.160s' is undefined (no initializer, "
                               "graph input or node output has that name)", nn, opn, vn);
        if (m->src[v] >= (int)i)
            return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (%s): input '%.160s' is produced by %s'%.160s'%s "
                               "(a cycle, or nodes not in topological order)", nn, opn, vn,
                               m->src[v] == (int)i ? "the node itself " : "node ", m->node_names[m->src[v]],
                               m->src[v] == (int)i ? "" : ", which comes later");
        in[j] = v;
    }
    for (size_t j = 0; j < np->n_output; j++) {
        const char *vn = S(np->output[j]);
        out[j] = vn[0] ? ir_graph_find(g, vn) : -1;
    }
    if (op == IR_OP_Constant)
        return constant_import(m, np, nn, out[0]);
    hpk_err e2 = {0};
    int ni = ir_node_add(g, (ir_op)op, nn, in, (int)np->n_input, out, (int)np->n_output, &e2);
    if (ni < 0)
        return hpk_err_set(m->e, e2.code, "node '%.160s': %s", nn, e2.msg);
    if (np->n_attribute > MAX_NODE_ATTRS)
        return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (%s): %zu attributes, more than %d", nn, opn,
                           np->n_attribute, MAX_NODE_ATTRS);
    ir_attr *attrs = ir_arena_alloc(g, sizeof(ir_attr) * (np->n_attribute ? np->n_attribute : 1));
    if (!attrs)
        return hpk_err_set(m->e, HPK_ENOMEM, "out of memory importing node '%.160s'", nn);
    g->nodes[ni].attr = attrs;
    for (size_t k = 0; k < np->n_attribute; k++) {
        const Onnx__AttributeProto *ap = np->attribute[k];
        for (size_t j = 0; j < k; j++)
            if (ap->name && strcmp(attrs[j].name, ap->name) == 0)
                return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (%s): attribute '%.80s' is given twice", nn,
                                   opn, ap->name);
        rc = attr_decode(m, nn, opn, ap, k, &attrs[k]);
        if (attrs[k].t || !rc)
            g->nodes[ni].n_attr = (int)k + 1; /* the graph now owns (and frees) any tensor */
        if (rc)
            return rc;
    }
    return onnx_node_check_opset(g, &g->nodes[ni], g->opset, m->e);
}

/* ---- the model ----------------------------------------------------------------------------------------------- */

static int model_import(imp *m)
{
    const Onnx__ModelProto *mp = m->mp;
    ir_graph *g = m->g;
    int rc;
    hpk_err e2 = {0};

    if (!mp->has_ir_version)
        return hpk_err_set(m->e, HPK_EINPUT, "the model has no ir_version (not an ONNX model?)");
    if (mp->ir_version < IR_VERSION_MIN || mp->ir_version > IR_VERSION_MAX)
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "IR version %lld is not supported (hpk reads %d to %d)",
                           (long long)mp->ir_version, IR_VERSION_MIN, IR_VERSION_MAX);
    int64_t opset = -1;
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *os = mp->opset_import[k];
        if (!is_default_domain(os->domain))
            continue;
        if (!os->has_version)
            return hpk_err_set(m->e, HPK_EINPUT, "opset_import for the default domain has no version");
        if (opset >= 0 && opset != os->version)
            return hpk_err_set(m->e, HPK_EINPUT, "opset_import names the default domain twice (opsets %lld and "
                               "%lld)", (long long)opset, (long long)os->version);
        opset = os->version;
    }
    if (opset < 0)
        return hpk_err_set(m->e, HPK_EINPUT, "opset_import has no entry for the default ONNX domain");
    if (opset < OPSET_MIN || opset > OPSET_MAX)
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "opset %lld of the default domain is not supported (hpk reads "
                           "opsets %d to %d)", (long long)opset, OPSET_MIN, OPSET_MAX);
    if (!mp->graph)
        return hpk_err_set(m->e, HPK_EINPUT, "the model has no graph");
    const Onnx__GraphProto *gp = m->gp = mp->graph;

    g->ir_version = mp->ir_version;
    g->opset = opset;
    g->model_version = mp->has_model_version ? mp->model_version : 0;
    g->producer_name = ir_strdup(g, S(mp->producer_name));
    g->producer_version = ir_strdup(g, S(mp->producer_version));
    g->doc = ir_strdup(g, S(mp->doc_string));
    g->name = ir_strdup(g, S(gp->name));
    if (!g->producer_name || !g->producer_version || !g->doc || !g->name)
        return hpk_err_set(m->e, HPK_ENOMEM, "out of memory reading the model's metadata");
    if (gp->n_sparse_initializer)
        return hpk_err_set(m->e, HPK_EUNSUPPORTED, "sparse initializer '%.160s' is not supported",
                           S(gp->sparse_initializer[0]->values ? gp->sparse_initializer[0]->values->name : NULL));

    /* value ids: initializers, then graph inputs, then node outputs (so `src` can be sized up front) */
    size_t nv = gp->n_initializer, tmp;
    if (__builtin_add_overflow(nv, gp->n_input, &nv))
        return hpk_err_set(m->e, HPK_EINPUT, "too many values");
    for (size_t i = 0; i < gp->n_node; i++)
        if (__builtin_add_overflow(nv, gp->node[i]->n_output, &nv))
            return hpk_err_set(m->e, HPK_EINPUT, "too many values");
    if (nv >= (1u << 28) || gp->n_node >= (1u << 28))
        return hpk_err_set(m->e, HPK_EINPUT, "%zu values in %zu nodes are more than hpk handles", nv, gp->n_node);
    if (__builtin_mul_overflow(nv + 1, sizeof(int), &tmp) || !(m->src = ir_alloc(g, tmp)))
        return hpk_err_set(m->e, HPK_ENOMEM, "out of memory importing the graph");
    m->n_src = nv + 1;
    for (size_t v = 0; v < m->n_src; v++)
        m->src[v] = -1;

    for (size_t k = 0; k < gp->n_initializer; k++) {
        const Onnx__TensorProto *tp = gp->initializer[k];
        const char *name = S(tp->name);
        char ctx[256];
        ir_tensor *t;
        if (!name[0])
            return hpk_err_set(m->e, HPK_EINPUT, "initializer %zu has no name", k);
        if (ir_graph_find(g, name) >= 0)
            return hpk_err_set(m->e, HPK_EINPUT, "duplicate initializer '%.160s'", name);
        snprintf(ctx, sizeof ctx, "initializer '%.160s'", name);
        if ((rc = tensor_decode(m, tp, ctx, &t)))
            return rc;
        int v = ir_value_add(g, name, t->dtype, &t->shape, &e2);
        if (v < 0) {
            ir_tensor_free(g, t);
            return hpk_err_set(m->e, e2.code, "%s: %s", ctx, e2.msg);
        }
        g->values[v].init = t;
    }

    for (size_t k = 0; k < gp->n_input; k++) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        const char *name = S(vi->name);
        char ctx[256];
        ir_dtype dt;
        ir_shape s;
        if (!name[0])
            return hpk_err_set(m->e, HPK_EINPUT, "graph input %zu has no name", k);
        int v = ir_graph_find(g, name);
        if (v >= 0 && g->values[v].init)
            continue; /* an initializer listed as an input (IR < 4, or an overridable default): a constant here */
        if (v >= 0)
            return hpk_err_set(m->e, HPK_EINPUT, "graph input '%.160s' is listed twice", name);
        snprintf(ctx, sizeof ctx, "graph input '%.160s'", name);
        if ((rc = type_decode(m, vi->type, ctx, true, &dt, &s)))
            return rc;
        if ((v = ir_value_add(g, name, dt, &s, &e2)) < 0 || ir_graph_add_input(g, v, &e2))
            return hpk_err_set(m->e, e2.code, "%s: %s", ctx, e2.msg);
    }

    /* node names: keep the file's; give unnamed nodes "<OpType>_<index>" (made unique) so messages can name them */
    if (gp->n_node) {
        if (!(m->node_names = ir_alloc(g, sizeof(char *) * gp->n_node)))
            return hpk_err_set(m->e, HPK_ENOMEM, "out of memory importing the graph");
        for (size_t i = 0; i < gp->n_node; i++) {
            m->node_names[i] = S(gp->node[i]->name);
            if (m->node_names[i][0] && strmap_put(g, &m->names, m->node_names[i], (int)i))
                return hpk_err_set(m->e, HPK_ENOMEM, "out of memory importing the graph");
        }
        for (size_t i = 0; i < gp->n_node; i++) {
            char buf[160];
            const char *opn = S(gp->node[i]->op_type);
            if (m->node_names[i][0])
                continue;
            snprintf(buf, sizeof buf, "%.100s_%zu", opn[0] ? opn : "node", i);
            for (unsigned k = 1; strmap_get(&m->names, buf) >= 0; k++)
                snprintf(buf, sizeof buf, "%.100s_%zu_%u", opn[0] ? opn : "node", i, k);
            if (!(m->node_names[i] = ir_strdup(g, buf)) || strmap_put(g, &m->names, m->node_names[i], (int)i))
                return hpk_err_set(m->e, HPK_ENOMEM, "out of memory importing the graph");
        }
    }

    /* every node output becomes a value up front, so inputs read later can be told apart from undefined ones */
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        for (size_t j = 0; j < np->n_output; j++) {
            const char *name = S(np->output[j]);
            if (!name[0])
                continue;
            int v = ir_graph_find(g, name);
            if (v >= 0) {
                char what[200];
                if (g->values[v].init)
                    snprintf(what, sizeof what, "an initializer");
                else if (m->src[v] < 0)
                    snprintf(what, sizeof what, "a graph input");
                else
                    snprintf(what, sizeof what, "produced by node '%.160s'", m->node_names[m->src[v]]);
                return hpk_err_set(m->e, HPK_EINPUT, "node '%.160s' (%.80s): output '%.160s' is also %s (duplicate "
                                   "name)", m->node_names[i], S(np->op_type), name, what);
            }
            if ((v = ir_value_add(g, name, IR_DT_UNDEF, NULL, &e2)) < 0)
                return hpk_err_set(m->e, e2.code, "node '%.160s': %s", m->node_names[i], e2.msg);
            m->src[v] = (int)i;
        }
    }

    for (size_t i = 0; i < gp->n_node; i++)
        if ((rc = node_import(m, i)))
            return rc;

    /* value_info first (optional, lenient), then the outputs' declared types, which are authoritative */
    for (size_t k = 0; k < gp->n_value_info; k++) {
        const Onnx__ValueInfoProto *vi = gp->value_info[k];
        int v = vi->name ? ir_graph_find(g, vi->name) : -1;
        ir_dtype dt;
        ir_shape s;
        if (v < 0 || g->values[v].init || m->src[v] < 0)
            continue;
        rc = type_decode(m, vi->type, "value_info", false, &dt, &s);
        if (rc == HPK_ENOMEM)
            return rc;
        if (rc == HPK_OK) {
            g->values[v].dtype = dt;
            g->values[v].shape = s;
        }
    }
    for (size_t k = 0; k < gp->n_output; k++) {
        const Onnx__ValueInfoProto *vi = gp->output[k];
        const char *name = S(vi->name);
        char ctx[256];
        ir_dtype dt;
        ir_shape s;
        if (!name[0])
            return hpk_err_set(m->e, HPK_EINPUT, "graph output %zu has no name", k);
        int v = ir_graph_find(g, name);
        if (v < 0)
            return hpk_err_set(m->e, HPK_EINPUT, "graph output '%.160s' is not computed by any node (nor an "
                               "initializer or graph input)", name);
        if (g->values[v].flags & IR_VAL_OUTPUT)
            return hpk_err_set(m->e, HPK_EINPUT, "graph output '%.160s' is listed twice", name);
        snprintf(ctx, sizeof ctx, "graph output '%.160s'", name);
        if (vi->type) {
            if ((rc = type_decode(m, vi->type, ctx, true, &dt, &s)))
                return rc;
            if (!g->values[v].init && m->src[v] >= 0) {
                g->values[v].dtype = dt;
                g->values[v].shape = s;
            }
        }
        if (ir_graph_add_output(g, v, &e2))
            return hpk_err_set(m->e, e2.code, "%s: %s", ctx, e2.msg);
    }

    /* stages hpk recorded on export ("hpk.stage.NAME" = "STRIDE:VALUE"); advisory, malformed entries ignored */
    for (size_t k = 0; k < mp->n_metadata_props; k++) {
        const char *key = S(mp->metadata_props[k]->key), *val = S(mp->metadata_props[k]->value);
        uint64_t stride = 0;
        char num[24];
        size_t nl = strcspn(val, ":");
        if (strncmp(key, "hpk.stage.", 10) != 0 || !key[10] || val[nl] != ':' || nl == 0 || nl >= sizeof num)
            continue;
        memcpy(num, val, nl);
        num[nl] = 0;
        int v = ir_graph_find(g, val + nl + 1);
        if (!parse_u63(num, &stride) || stride > (1u << 20) || v < 0 || g->n_stages >= IR_MAX_STAGES)
            continue;
        if (ir_stage_set(g, key + 10, v, (int)stride, &e2))
            return hpk_err_set(m->e, e2.code, "stage '%.80s': %s", key + 10, e2.msg);
    }
    return HPK_OK;
}

static void imp_free(imp *m)
{
    ir_graph *g = m->g;
    ir_dealloc(g, m->src, sizeof(int) * m->n_src);
    ir_dealloc(g, m->node_names, sizeof(char *) * (m->gp ? m->gp->n_node : 0));
    ir_dealloc(g, m->ids, sizeof(int) * m->n_ids);
    strmap_free(g, &m->names);
    strmap_free(g, &m->syms);
}

/* Records "NAME: msg" in err as one line (control characters from hostile names become '?'). */
static int fail_prefixed(hpk_err *err, int code, const char *name, const hpk_err *inner)
{
    if (!err || err->code != HPK_OK)
        return code;
    hpk_err_set(err, code, "%s: %s", name, inner->msg[0] ? inner->msg : "failed");
    for (char *p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return code;
}

static void resolve_limits(const onnx_limits *lim, size_t n, size_t *max_file, int *max_nesting,
                           size_t *max_tensor, size_t *max_decoded)
{
    *max_file = lim && lim->max_file_bytes ? lim->max_file_bytes : DEF_MAX_FILE;
    *max_nesting = lim && lim->max_nesting > 0 ? lim->max_nesting : DEF_MAX_NESTING;
    *max_tensor = lim && lim->max_tensor_bytes ? lim->max_tensor_bytes : DEF_MAX_TENSOR;
    if (lim && lim->max_decoded_bytes) {
        *max_decoded = lim->max_decoded_bytes;
    } else if (__builtin_mul_overflow(n, (size_t)DECODE_RATIO, max_decoded) ||
               __builtin_add_overflow(*max_decoded, DECODE_FLOOR, max_decoded)) {
        *max_decoded = SIZE_MAX;
    }
}

int onnx_load_buffer(const void *buf, size_t n, const char *base_dir, const char *name, hpk_alloc alloc,
                     const onnx_limits *lim, ir_graph **out, hpk_err *err)
{
    size_t max_file, max_tensor, max_decoded;
    int max_nesting, rc;
    hpk_err e = {0};
    ir_graph *g = NULL;
    Onnx__ModelProto *mp = NULL;
    pb_alloc_ctx pctx;
    ProtobufCAllocator pa = {pb_alloc, pb_free, &pctx};
    imp m;
    memset(&m, 0, sizeof m);
    if (out)
        *out = NULL;
    if (!name)
        name = "<memory>";
    if (!alloc.fn)
        alloc = hpk_alloc_default();
    pctx.a = alloc;
    pctx.failed = 0;
    resolve_limits(lim, n, &max_file, &max_nesting, &max_tensor, &max_decoded);
    if (!out) {
        rc = hpk_err_set(&e, HPK_EINTERNAL, "onnx_load_buffer called without an output graph");
        goto fail;
    }
    if (n == 0 || !buf) {
        rc = hpk_err_set(&e, HPK_EINPUT, "empty file (0 bytes), not an ONNX model");
        goto fail;
    }
    if (n > max_file) {
        rc = hpk_err_set(&e, HPK_ENOMEM, "%zu bytes is more than the model size limit of %zu bytes", n, max_file);
        goto fail;
    }
    if ((rc = onnx_wire_scan(buf, n, &onnx__model_proto__descriptor, max_nesting, max_decoded, alloc, NULL, &e)))
        goto fail;
    if ((rc = ir_graph_init(&g, alloc, &e)))
        goto fail;
    mp = onnx__model_proto__unpack(&pa, n, buf);
    if (!mp) {
        rc = pctx.failed ? hpk_err_set(&e, HPK_ENOMEM, "out of memory decoding the protobuf")
                         : hpk_err_set(&e, HPK_EINPUT, "protobuf-c cannot decode the file as an ONNX ModelProto");
        goto fail;
    }
    m.g = g;
    m.mp = mp;
    m.base_dir = base_dir;
    m.max_tensor = max_tensor;
    m.e = &e;
    rc = model_import(&m);
    imp_free(&m);
    onnx__model_proto__free_unpacked(mp, &pa);
    mp = NULL;
    if (rc)
        goto fail;
    if ((rc = ir_verify(g, &e)))
        goto fail;
    *out = g;
    return HPK_OK;
fail:
    if (mp)
        onnx__model_proto__free_unpacked(mp, &pa);
    ir_graph_free(g);
    return fail_prefixed(err, rc ? rc : HPK_EINTERNAL, name, &e);
}

int onnx_load(const char *path, hpk_alloc alloc, const onnx_limits *lim, ir_graph **out, hpk_err *err)
{
    size_t max_file, max_tensor, max_decoded, n = 0, dlen = 0;
    int max_nesting, rc = HPK_OK;
    hpk_err e = {0};
    struct stat st;
    unsigned char *buf = NULL;
    char *dir = NULL;
    if (out)
        *out = NULL;
    if (!path)
        return hpk_err_set(err, HPK_EUSAGE, "no model path given");
    if (!alloc.fn)
        alloc = hpk_alloc_default();
    resolve_limits(lim, 0, &max_file, &max_nesting, &max_tensor, &max_decoded);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        rc = hpk_err_set(&e, HPK_EIO, "cannot open: %s", strerror(errno));
        return fail_prefixed(err, rc, path, &e);
    }
    if (fstat(fd, &st) != 0) {
        rc = hpk_err_set(&e, HPK_EIO, "cannot stat: %s", strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = hpk_err_set(&e, HPK_EINPUT, "not a regular file");
        goto done;
    }
    if (st.st_size <= 0) {
        rc = hpk_err_set(&e, HPK_EINPUT, "empty file (0 bytes), not an ONNX model");
        goto done;
    }
    if ((uint64_t)st.st_size > (uint64_t)max_file) {
        rc = hpk_err_set(&e, HPK_ENOMEM, "%llu bytes is more than the model size limit of %zu bytes",
                         (unsigned long long)st.st_size, max_file);
        goto done;
    }
    n = (size_t)st.st_size;
    if (!(buf = alloc.fn(alloc.ud, NULL, 0, n))) {
        rc = hpk_err_set(&e, HPK_ENOMEM, "out of memory reading %zu bytes", n);
        goto done;
    }
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            rc = hpk_err_set(&e, HPK_EIO, "read failed at byte %zu: %s", got, r < 0 ? strerror(errno) : "file shrank");
            goto done;
        }
        got += (size_t)r;
    }
    /* external data is resolved against the model's folder */
    const char *slash = strrchr(path, '/');
    dlen = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
    if (!(dir = alloc.fn(alloc.ud, NULL, 0, dlen + 1))) {
        rc = hpk_err_set(&e, HPK_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(dir, slash ? path : ".", dlen);
    dir[dlen] = 0;
    close(fd);
    fd = -1;
    rc = onnx_load_buffer(buf, n, dir, path, alloc, lim, out, err);
done:
    if (fd >= 0)
        close(fd);
    if (buf)
        alloc.fn(alloc.ud, buf, n, 0);
    if (dir)
        alloc.fn(alloc.ud, dir, dlen + 1, 0);
    if (rc && e.code)
        return fail_prefixed(err, rc, path, &e);
    return rc;
}
