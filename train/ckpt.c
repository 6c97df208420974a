/* ckpt.c — checkpoint container: layout, CRC-32C, the atomic writer and the validating reader (format in ckpt.h).
 *
 * The writer computes the whole layout first (checked arithmetic; refuses NaN/Inf, duplicates, bad dtypes) so
 * nothing touches the disk before the checkpoint is known to be writable; it then streams header, tables and
 * payloads through one emitter that updates the CRC and either copies into memory or writes the temp file.
 * The reader trusts nothing: it only indexes the buffer after checking the index against the buffer's size,
 * and every error is a message naming the file (SQLite's SQLITE_CORRUPT_BKPT spirit: a reason, never an assert).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ckpt.c writes tensor payloads in host order and assumes a little-endian host"
#endif

#define HDR_SIZE 64u
#define SEC_ENTRY 32u
#define N_SECTIONS 3u
#define TABLE_END (HDR_SIZE + N_SECTIONS * SEC_ENTRY) /* 160: META starts here */
#define TRAILER 8u
#define PAYLOAD_ALIGN 64u
#define MAX_ENTRIES (1u << 24)
#define MIN_META_ENTRY 24u   /* K=1 key, empty string: 16 + 2 + 1 -> 24 */
#define MIN_TENSOR_ENTRY 40u /* L=1 name, rank 0: 16 + 16 + 2 -> 40 */

enum { SEC_META = 1, SEC_TENSORS = 2, SEC_DATA = 3 };

static const char k_magic[8] = {'H', 'P', 'K', 'C', 'K', 'P', 'T', '1'};
static const char k_end[4] = {'H', 'P', 'K', 'E'};

/* ---- CRC-32C ------------------------------------------------------------------------------------------------ */
static const uint32_t k_crc_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu,
    0x26a1e7e8u, 0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
    0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu,
    0xf165b798u, 0x030e349bu, 0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
    0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u, 0x5d1d08bfu, 0xaf768bbcu,
    0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
    0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
    0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu,
    0x1642ae59u, 0xe4292d5au, 0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
    0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu,
    0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
    0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu, 0xfe53516fu,
    0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu,
    0x3ac7f2ebu, 0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
    0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu,
    0x4767748au, 0xb50cf789u, 0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
    0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u, 0x7198540du, 0x83f3d70eu,
    0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
    0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
    0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u,
    0xe9141340u, 0x1b7f9043u, 0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
    0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u, 0x55326b08u, 0xa759e80bu,
    0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
    0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u, 0x502036a5u,
    0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u,
    0x0e330a81u, 0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
    0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u,
    0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
    0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u, 0x0417b1dbu, 0xf67c32d8u,
    0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
    0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
    0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u,
    0x7fab5e8cu, 0x8dc0dd8fu, 0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
    0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u,
    0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
    0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au, 0xc69f7b69u,
    0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

static uint32_t crc32c_sw(uint32_t c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c = k_crc_table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CRC_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c, const unsigned char *p, size_t n)
{
    uint64_t c64 = c;
    while (n > 0 && ((uintptr_t)p & 7u)) {
        c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++);
        n--;
    }
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++);
        n--;
    }
    return (uint32_t)c64;
}
#endif

uint32_t train_crc32c(uint32_t crc, const void *p, size_t n)
{
    uint32_t c = crc ^ 0xffffffffu;
#ifdef HAVE_CRC_HW
    if (__builtin_cpu_supports("sse4.2"))
        return crc32c_hw(c, p, n) ^ 0xffffffffu;
#endif
    return crc32c_sw(c, p, n) ^ 0xffffffffu;
}

/* ---- little-endian fields ------------------------------------------------------------------------------------ */
static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + (a - 1)) & ~(a - 1); }

/* checked u64 arithmetic: false on overflow */
static bool add_ok(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }

static bool dtype_ok(int dt) { return dt == HPK_DT_F32 || dt == HPK_DT_U8 || dt == HPK_DT_I64; }

static void *mem_alloc(hpk_alloc a, size_t n) { return a.fn(a.ud, NULL, 0, n ? n : 1); }
static void mem_free(hpk_alloc a, void *p, size_t n)
{
    if (p)
        a.fn(a.ud, p, n, 0);
}

static char *mem_strdup(hpk_alloc a, const char *s, size_t *len_out)
{
    size_t len = strlen(s);
    char *d = mem_alloc(a, len + 1);
    if (d) {
        memcpy(d, s, len + 1);
        *len_out = len;
    }
    return d;
}

/* ---- the writer --------------------------------------------------------------------------------------------- */
typedef struct w_tensor {
    char *name;
    size_t name_len;
    unsigned group;
    int dtype, rank;
    int64_t dims[HPK_MAX_RANK];
    const void *data;
    size_t nbytes;
    uint64_t offset; /* payload offset, set by layout */
} w_tensor;

typedef struct w_meta {
    char *key;
    size_t key_len;
    int type;
    int64_t i;
    double f;
    char *s;
    size_t s_len;
} w_meta;

struct train_ckpt_writer {
    hpk_alloc alloc;
    w_tensor *t;
    int n_t, cap_t;
    w_meta *m;
    int n_m, cap_m;
    train_ckpt_io io;
    bool has_io;
    bool allow_nonfinite;
};

int train_ckpt_writer_init(train_ckpt_writer **out, hpk_alloc alloc, hpk_err *err)
{
    *out = NULL;
    train_ckpt_writer *w = mem_alloc(alloc, sizeof *w);
    if (!w)
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint writer: out of memory");
    memset(w, 0, sizeof *w);
    w->alloc = alloc;
    *out = w;
    return HPK_OK;
}

void train_ckpt_writer_reset(train_ckpt_writer *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n_t; i++)
        mem_free(w->alloc, w->t[i].name, w->t[i].name_len + 1);
    for (int i = 0; i < w->n_m; i++) {
        mem_free(w->alloc, w->m[i].key, w->m[i].key_len + 1);
        mem_free(w->alloc, w->m[i].s, w->m[i].s_len + 1);
    }
    w->n_t = 0;
    w->n_m = 0;
}

void train_ckpt_writer_free(train_ckpt_writer *w)
{
    if (!w)
        return;
    train_ckpt_writer_reset(w);
    mem_free(w->alloc, w->t, (size_t)w->cap_t * sizeof *w->t);
    mem_free(w->alloc, w->m, (size_t)w->cap_m * sizeof *w->m);
    mem_free(w->alloc, w, sizeof *w);
}

void train_ckpt_writer_set_io(train_ckpt_writer *w, const train_ckpt_io *io)
{
    w->has_io = io != NULL;
    if (io)
        w->io = *io;
}

void train_ckpt_writer_allow_nonfinite(train_ckpt_writer *w, bool allow) { w->allow_nonfinite = allow; }

static int check_name(const char *what, const char *name, hpk_err *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > TRAIN_CKPT_MAX_NAME)
        return hpk_err_set(err, HPK_EINPUT, "checkpoint: %s name '%.64s' must have 1..%u bytes", what,
                           name ? name : "", TRAIN_CKPT_MAX_NAME);
    return HPK_OK;
}

static int grow(hpk_alloc a, void **arr, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return HPK_OK;
    if (*cap >= (int)MAX_ENTRIES)
        return HPK_ENOMEM;
    int ncap = *cap ? *cap * 2 : 16;
    void *q = a.fn(a.ud, *arr, (size_t)*cap * elem, (size_t)ncap * elem);
    if (!q)
        return HPK_ENOMEM;
    *arr = q;
    *cap = ncap;
    return HPK_OK;
}

int train_ckpt_add_tensor(train_ckpt_writer *w, unsigned group, const char *name, int dtype, int rank,
                          const int64_t *dims, const void *data, hpk_err *err)
{
    if (check_name("tensor", name, err))
        return HPK_EINPUT;
    if (group >= TRAIN_CKPT_MAX_GROUPS)
        return hpk_err_set(err, HPK_EINPUT, "checkpoint: tensor '%s': group %u out of range", name, group);
    if (!dtype_ok(dtype))
        return hpk_err_set(err, HPK_EUNSUPPORTED, "checkpoint: tensor '%s': dtype %s cannot be saved", name,
                           hpk_dtype_name(dtype));
    if (rank < 0 || rank > HPK_MAX_RANK)
        return hpk_err_set(err, HPK_EINPUT, "checkpoint: tensor '%s': rank %d out of range", name, rank);
    size_t numel, nbytes;
    if (hpk_numel(rank, dims, &numel) || __builtin_mul_overflow(numel, hpk_dtype_size(dtype), &nbytes))
        return hpk_err_set(err, HPK_EINPUT, "checkpoint: tensor '%s': negative or overflowing dims", name);
    if (nbytes > 0 && !data)
        return hpk_err_set(err, HPK_EINTERNAL, "checkpoint: tensor '%s' has no data", name);
    if (grow(w->alloc, (void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t))
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint: out of memory adding tensor '%s'", name);
    w_tensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = mem_strdup(w->alloc, name, &t->name_len);
    if (!t->name)
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint: out of memory adding tensor '%s'", name);
    t->group = group;
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++)
        t->dims[i] = dims[i];
    t->data = data;
    t->nbytes = nbytes;
    w->n_t++;
    return HPK_OK;
}

/* Appends a metadata entry with a copy of key; returns HPK_OK and sets *out, or an error code. */
static int meta_new(train_ckpt_writer *w, const char *key, int type, w_meta **out, hpk_err *err)
{
    int rc = check_name("metadata key", key, err);
    if (rc)
        return rc;
    if (grow(w->alloc, (void **)&w->m, &w->cap_m, w->n_m, sizeof *w->m))
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint: out of memory adding key '%s'", key);
    w_meta *m = &w->m[w->n_m];
    memset(m, 0, sizeof *m);
    m->key = mem_strdup(w->alloc, key, &m->key_len);
    if (!m->key)
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint: out of memory adding key '%s'", key);
    m->type = type;
    w->n_m++;
    *out = m;
    return HPK_OK;
}

int train_ckpt_add_i64(train_ckpt_writer *w, const char *key, int64_t v, hpk_err *err)
{
    w_meta *m;
    int rc = meta_new(w, key, TRAIN_CKPT_I64, &m, err);
    if (rc)
        return rc;
    m->i = v;
    return HPK_OK;
}

int train_ckpt_add_f64(train_ckpt_writer *w, const char *key, double v, hpk_err *err)
{
    w_meta *m;
    int rc = meta_new(w, key, TRAIN_CKPT_F64, &m, err);
    if (rc)
        return rc;
    m->f = v;
    return HPK_OK;
}

int train_ckpt_add_str(train_ckpt_writer *w, const char *key, const char *s, hpk_err *err)
{
    if (!s)
        return hpk_err_set(err, HPK_EINTERNAL, "checkpoint: key '%s': NULL string", key ? key : "");
    w_meta *m;
    int rc = meta_new(w, key, TRAIN_CKPT_STR, &m, err);
    if (rc)
        return rc;
    m->s = mem_strdup(w->alloc, s, &m->s_len);
    if (!m->s) {
        w->n_m--;
        mem_free(w->alloc, m->key, m->key_len + 1);
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint: out of memory adding key '%s'", key);
    }
    return HPK_OK;
}

static int rng_key(char *buf, size_t n, const char *prefix, const char *field, hpk_err *err)
{
    int k = snprintf(buf, n, "%s.%s", prefix ? prefix : "", field);
    if (k < 0 || (size_t)k >= n)
        return hpk_err_set(err, HPK_EINPUT, "checkpoint: RNG key prefix '%.64s' is too long", prefix);
    return HPK_OK;
}

int train_ckpt_add_rng(train_ckpt_writer *w, const char *prefix, const ir_rng *r, hpk_err *err)
{
    char key[TRAIN_CKPT_MAX_NAME + 1];
    int rc;
    uint64_t spare_bits;
    memcpy(&spare_bits, &r->spare, 8);
    if ((rc = rng_key(key, sizeof key, prefix, "state", err)) || (rc = train_ckpt_add_i64(w, key, (int64_t)r->state, err)))
        return rc;
    if ((rc = rng_key(key, sizeof key, prefix, "inc", err)) || (rc = train_ckpt_add_i64(w, key, (int64_t)r->inc, err)))
        return rc;
    if ((rc = rng_key(key, sizeof key, prefix, "spare_flag", err)) ||
        (rc = train_ckpt_add_i64(w, key, r->has_spare ? 1 : 0, err)))
        return rc;
    if ((rc = rng_key(key, sizeof key, prefix, "spare", err)) ||
        (rc = train_ckpt_add_i64(w, key, (int64_t)spare_bits, err)))
        return rc;
    return HPK_OK;
}

int train_ckpt_add_graph(train_ckpt_writer *w, const ir_graph *g, hpk_err *err)
{
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->init || !(val->flags & (IR_VAL_PARAM | IR_VAL_STATE)))
            continue;
        const ir_tensor *t = val->init;
        int rc = train_ckpt_add_tensor(w, TRAIN_CKPT_MODEL, val->name, (int)t->dtype, t->shape.rank, t->shape.d,
                                       t->data, err);
        if (rc)
            return rc;
    }
    return HPK_OK;
}

/* -- layout -- */
typedef struct layout {
    uint64_t meta_off, meta_size, tens_off, tens_size, data_off, data_size, file_size;
} layout;

static uint64_t meta_entry_size(const w_meta *m)
{
    uint64_t v = m->type == TRAIN_CKPT_STR ? (uint64_t)m->s_len + 1 : 8;
    return align_up(16 + (uint64_t)m->key_len + 1 + v, 8);
}

static uint64_t tensor_entry_size(const w_tensor *t)
{
    return align_up(16 + 8 * (uint64_t)t->rank + 16 + (uint64_t)t->name_len + 1, 8);
}

static int cmp_tensor_ptr(const void *a, const void *b)
{
    const w_tensor *x = *(const w_tensor *const *)a, *y = *(const w_tensor *const *)b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_meta_ptr(const void *a, const void *b)
{
    const w_meta *x = *(const w_meta *const *)a, *y = *(const w_meta *const *)b;
    return strcmp(x->key, y->key);
}

/* Duplicate (group, name) and key check by sorting pointer arrays. */
static int writer_check_unique(train_ckpt_writer *w, const char *lb, hpk_err *err)
{
    size_t n = (size_t)(w->n_t > w->n_m ? w->n_t : w->n_m);
    if (n < 2)
        return HPK_OK;
    void **p = mem_alloc(w->alloc, n * sizeof *p);
    if (!p)
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", lb);
    int rc = HPK_OK;
    for (int i = 0; i < w->n_t; i++)
        p[i] = &w->t[i];
    qsort(p, (size_t)w->n_t, sizeof *p, cmp_tensor_ptr);
    for (int i = 1; i < w->n_t && !rc; i++)
        if (cmp_tensor_ptr(&p[i - 1], &p[i]) == 0)
            rc = hpk_err_set(err, HPK_EINTERNAL, "%s: tensor '%s' (group %u) added twice", lb,
                             ((w_tensor *)p[i])->name, ((w_tensor *)p[i])->group);
    for (int i = 0; i < w->n_m && !rc; i++)
        p[i] = &w->m[i];
    if (!rc)
        qsort(p, (size_t)w->n_m, sizeof *p, cmp_meta_ptr);
    for (int i = 1; i < w->n_m && !rc; i++)
        if (cmp_meta_ptr(&p[i - 1], &p[i]) == 0)
            rc = hpk_err_set(err, HPK_EINTERNAL, "%s: metadata key '%s' added twice", lb,
                             ((w_meta *)p[i])->key);
    mem_free(w->alloc, p, n * sizeof *p);
    return rc;
}

static int writer_layout(train_ckpt_writer *w, const char *lb, layout *L, hpk_err *err)
{
    int rc = writer_check_unique(w, lb, err);
    if (rc)
        return rc;
    if (!w->allow_nonfinite) {
        for (int i = 0; i < w->n_t; i++) {
            const w_tensor *t = &w->t[i];
            if (t->dtype != HPK_DT_F32)
                continue;
            const float *f = t->data;
            size_t n = t->nbytes / 4;
            for (size_t k = 0; k < n; k++)
                if (!isfinite(f[k]))
                    return hpk_err_set(err, HPK_EINPUT,
                                       "%s: tensor '%s' holds %s at element %zu; a poisoned checkpoint is "
                                       "not written",
                                       lb, t->name, isnan(f[k]) ? "NaN" : "Inf", k);
        }
    }
    bool ok = true;
    uint64_t pos = TABLE_END;
    L->meta_off = pos;
    for (int i = 0; i < w->n_m; i++)
        ok &= add_ok(pos, meta_entry_size(&w->m[i]), &pos);
    L->meta_size = pos - L->meta_off;
    L->tens_off = pos;
    for (int i = 0; i < w->n_t; i++)
        ok &= add_ok(pos, tensor_entry_size(&w->t[i]), &pos);
    L->tens_size = pos - L->tens_off;
    L->data_off = pos;
    for (int i = 0; i < w->n_t; i++) {
        pos = align_up(pos, PAYLOAD_ALIGN);
        w->t[i].offset = pos;
        ok &= add_ok(pos, w->t[i].nbytes, &pos);
    }
    pos = align_up(pos, 8);
    L->data_size = pos - L->data_off;
    ok &= add_ok(pos, TRAILER, &L->file_size);
    if (!ok || L->file_size > TRAIN_CKPT_MAX_FILE)
        return hpk_err_set(err, HPK_ENOMEM, "%s: the checkpoint would be too large", lb);
    return HPK_OK;
}

/* -- the emitter: CRC + sink (memory or fd with a staging buffer) -- */
typedef struct emitter {
    uint32_t crc; /* raw running value (pre/post inversion handled by train_crc32c) */
    uint64_t pos;
    /* memory sink */
    unsigned char *mem;
    /* fd sink */
    int fd;
    unsigned char *buf;
    size_t buf_cap, buf_len;
    const train_ckpt_writer *w;
    int err_no; /* errno of the failed write, 0 if none */
} emitter;

static ssize_t sys_write(const emitter *e, const void *p, size_t n)
{
    if (e->w->has_io && e->w->io.write)
        return e->w->io.write(e->w->io.ud, e->fd, p, n);
    return write(e->fd, p, n);
}

static int write_all(emitter *e, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
        ssize_t k = sys_write(e, p, chunk);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            e->err_no = errno ? errno : EIO;
            return -1;
        }
        if (k == 0) {
            e->err_no = ENOSPC;
            return -1;
        }
        p += (size_t)k;
        n -= (size_t)k;
    }
    return 0;
}

static int emit_flush(emitter *e)
{
    if (e->mem || e->buf_len == 0)
        return 0;
    int rc = write_all(e, e->buf, e->buf_len);
    e->buf_len = 0;
    return rc;
}

static int emit(emitter *e, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    e->crc = train_crc32c(e->crc, p, n);
    if (e->mem) {
        memcpy(e->mem + e->pos, p, n);
    } else if (e->buf_len + n <= e->buf_cap) {
        memcpy(e->buf + e->buf_len, p, n);
        e->buf_len += n;
    } else {
        if (emit_flush(e))
            return -1;
        if (n >= e->buf_cap) {
            if (write_all(e, p, n))
                return -1;
        } else {
            memcpy(e->buf, p, n);
            e->buf_len = n;
        }
    }
    e->pos += n;
    return 0;
}

static int emit_zeros(emitter *e, uint64_t n)
{
    static const unsigned char z[64];
    while (n > 0) {
        size_t k = n > sizeof z ? sizeof z : (size_t)n;
        if (emit(e, z, k))
            return -1;
        n -= k;
    }
    return 0;
}

static int emit_pad_to(emitter *e, uint64_t target) { return emit_zeros(e, target - e->pos); }

static int writer_emit(const train_ckpt_writer *w, const layout *L, emitter *e)
{
    unsigned char h[HDR_SIZE];
    memset(h, 0, sizeof h);
    memcpy(h, k_magic, 8);
    put32(h + 8, TRAIN_CKPT_VERSION);
    put32(h + 12, HDR_SIZE);
    put64(h + 16, L->file_size);
    put32(h + 24, N_SECTIONS);
    put32(h + 28, 0);
    put64(h + 32, HDR_SIZE);
    put32(h + 56, train_crc32c(0, h, 56));
    if (emit(e, h, sizeof h))
        return -1;

    unsigned char s[N_SECTIONS * SEC_ENTRY];
    memset(s, 0, sizeof s);
    const uint64_t offs[3] = {L->meta_off, L->tens_off, L->data_off};
    const uint64_t sizes[3] = {L->meta_size, L->tens_size, L->data_size};
    const uint32_t counts[3] = {(uint32_t)w->n_m, (uint32_t)w->n_t, (uint32_t)w->n_t};
    for (unsigned i = 0; i < N_SECTIONS; i++) {
        put32(s + i * SEC_ENTRY, i + 1);
        put32(s + i * SEC_ENTRY + 4, counts[i]);
        put64(s + i * SEC_ENTRY + 8, offs[i]);
        put64(s + i * SEC_ENTRY + 16, sizes[i]);
    }
    if (emit(e, s, sizeof s))
        return -1;

    for (int i = 0; i < w->n_m; i++) {
        const w_meta *m = &w->m[i];
        uint64_t start = e->pos;
        unsigned char f[16], v[8];
        put32(f, (uint32_t)m->key_len);
        put32(f + 4, (uint32_t)m->type);
        put64(f + 8, m->type == TRAIN_CKPT_STR ? (uint64_t)m->s_len : 8);
        if (emit(e, f, 16) || emit(e, m->key, m->key_len + 1))
            return -1;
        if (m->type == TRAIN_CKPT_STR) {
            if (emit(e, m->s, m->s_len + 1))
                return -1;
        } else {
            uint64_t bits;
            if (m->type == TRAIN_CKPT_I64)
                bits = (uint64_t)m->i;
            else
                memcpy(&bits, &m->f, 8);
            put64(v, bits);
            if (emit(e, v, 8))
                return -1;
        }
        if (emit_pad_to(e, start + meta_entry_size(m)))
            return -1;
    }

    for (int i = 0; i < w->n_t; i++) {
        const w_tensor *t = &w->t[i];
        uint64_t start = e->pos;
        unsigned char f[16 + 8 * HPK_MAX_RANK + 16];
        put32(f, (uint32_t)t->name_len);
        put32(f + 4, t->group);
        put32(f + 8, (uint32_t)t->dtype);
        put32(f + 12, (uint32_t)t->rank);
        size_t k = 16;
        for (int d = 0; d < t->rank; d++, k += 8)
            put64(f + k, (uint64_t)t->dims[d]);
        put64(f + k, t->offset);
        put64(f + k + 8, t->nbytes);
        if (emit(e, f, k + 16) || emit(e, t->name, t->name_len + 1) ||
            emit_pad_to(e, start + tensor_entry_size(t)))
            return -1;
    }

    for (int i = 0; i < w->n_t; i++) {
        const w_tensor *t = &w->t[i];
        if (emit_pad_to(e, t->offset) || emit(e, t->data, t->nbytes))
            return -1;
    }
    if (emit_pad_to(e, L->file_size - TRAILER))
        return -1;
    unsigned char tr[TRAILER];
    put32(tr, e->crc);
    memcpy(tr + 4, k_end, 4);
    e->crc = 0;
    if (emit(e, tr, TRAILER))
        return -1;
    return emit_flush(e);
}

int train_ckpt_serialize(train_ckpt_writer *w, void **out, size_t *n, hpk_err *err)
{
    *out = NULL;
    *n = 0;
    layout L;
    int rc = writer_layout(w, "checkpoint", &L, err);
    if (rc)
        return rc;
    if (L.file_size > SIZE_MAX)
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint: too large for memory");
    unsigned char *mem = mem_alloc(w->alloc, (size_t)L.file_size);
    if (!mem)
        return hpk_err_set(err, HPK_ENOMEM, "checkpoint: out of memory (%llu bytes)",
                           (unsigned long long)L.file_size);
    emitter e;
    memset(&e, 0, sizeof e);
    e.mem = mem;
    e.w = w;
    e.fd = -1;
    writer_emit(w, &L, &e);
    *out = mem;
    *n = (size_t)L.file_size;
    return HPK_OK;
}

/* -- the atomic file write -- */
static const char *write_cause(int e, char *buf, size_t n)
{
    switch (e) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return "disk full while writing the checkpoint";
    case EFBIG:
        return "the file-size limit was reached while writing the checkpoint";
    case EIO:
        return "I/O error while writing the checkpoint";
    default:
        snprintf(buf, n, "cannot write the checkpoint (%s)", strerror(e));
        return buf;
    }
}

/* Splits path into its folder ("." if none) and base name. */
static int split_path(const char *path, char *dir, size_t dir_n, const char **base, hpk_err *err)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (**base == 0 || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0)
        return hpk_err_set(err, HPK_EINPUT, "%s: a checkpoint path must name a file", path);
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (slash && dl == 0)
        dl = 1; /* "/name": the root */
    if (dl + 1 > dir_n)
        return hpk_err_set(err, HPK_EINPUT, "%s: path too long", path);
    if (slash) {
        memcpy(dir, path, dl);
        dir[dl] = 0;
    } else {
        strcpy(dir, ".");
    }
    return HPK_OK;
}

/* Removes ".<base>.tmp.<pid>" files of processes that no longer exist (left behind by kill -9). */
static void remove_stale_temps(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t bl = strlen(base);
    pid_t self = getpid();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, bl) != 0 || strncmp(n + 1 + bl, ".tmp.", 5) != 0)
            continue;
        const char *digits = n + 1 + bl + 5;
        if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 9)
            continue;
        long pid = strtol(digits, NULL, 10);
        if (pid <= 0 || (pid_t)pid == self)
            continue;
        if (kill((pid_t)pid, 0) == -1 && errno == ESRCH)
            unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

int train_ckpt_write(train_ckpt_writer *w, const char *path, hpk_err *err)
{
    layout L;
    int rc = writer_layout(w, path, &L, err);
    if (rc)
        return rc;
    char dir[PATH_MAX], tmp[PATH_MAX], cause[160];
    const char *base;
    if ((rc = split_path(path, dir, sizeof dir, &base, err)))
        return rc;
    int k = snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, base, (long)getpid());
    if (k < 0 || (size_t)k >= sizeof tmp)
        return hpk_err_set(err, HPK_EINPUT, "%s: path too long", path);
    struct stat st;
    bool had_old = lstat(path, &st) == 0;
    const char *kept = had_old ? "the previous checkpoint is kept" : "no checkpoint was written";

    remove_stale_temps(dir, base);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == EEXIST) { /* ours from an earlier attempt, or a recycled pid */
        unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) {
        int e = errno;
        return hpk_err_set(err, HPK_EIO, "%s: cannot create the temp file %s (%s); %s", path, tmp, strerror(e), kept);
    }

    emitter e;
    memset(&e, 0, sizeof e);
    e.w = w;
    e.fd = fd;
    e.buf_cap = (size_t)1 << 20;
    e.buf = mem_alloc(w->alloc, e.buf_cap);
    if (!e.buf) {
        close(fd);
        unlink(tmp);
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory writing the checkpoint; %s", path, kept);
    }
    int fail = writer_emit(w, &L, &e);
    mem_free(w->alloc, e.buf, e.buf_cap);
    if (!fail && e.pos != L.file_size) {
        fail = -1;
        e.err_no = EIO;
    }
    if (!fail) {
        int r;
        do
            r = (w->has_io && w->io.fsync) ? w->io.fsync(w->io.ud, fd) : fsync(fd);
        while (r != 0 && errno == EINTR);
        if (r != 0) {
            fail = -1;
            e.err_no = errno ? errno : EIO;
        }
    }
    if (close(fd) != 0 && !fail && errno != EINTR) {
        fail = -1;
        e.err_no = errno;
    }
    if (fail) {
        unlink(tmp);
        return hpk_err_set(err, HPK_EIO, "%s: %s; %s", path, write_cause(e.err_no, cause, sizeof cause), kept);
    }
    if (rename(tmp, path) != 0) {
        int en = errno;
        unlink(tmp);
        return hpk_err_set(err, HPK_EIO, "%s: cannot replace the checkpoint (%s); %s", path, strerror(en), kept);
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        int r = fsync(dfd);
        int en = errno;
        close(dfd);
        if (r != 0 && en != EINVAL && en != EROFS)
            return hpk_err_set(err, HPK_EIO, "%s: the checkpoint was written but its folder %s could not be synced (%s)",
                               path, dir, strerror(en));
    }
    return HPK_OK;
}

/* ---- the reader ------------------------------------------------------------------------------------------- */
struct train_ckpt {
    hpk_alloc alloc;
    char *label;
    size_t label_len;
    unsigned char *buf;
    size_t size;
    train_ckpt_tensor *t;
    int n_t;
    int *t_order; /* indices sorted by (group, name) */
    train_ckpt_meta *m;
    int n_m;
    int *m_order; /* indices sorted by key */
};

void train_ckpt_free(train_ckpt *c)
{
    if (!c)
        return;
    hpk_alloc a = c->alloc;
    mem_free(a, c->buf, c->size);
    mem_free(a, c->t, (size_t)c->n_t * sizeof *c->t);
    mem_free(a, c->t_order, (size_t)c->n_t * sizeof *c->t_order);
    mem_free(a, c->m, (size_t)c->n_m * sizeof *c->m);
    mem_free(a, c->m_order, (size_t)c->n_m * sizeof *c->m_order);
    mem_free(a, c->label, c->label_len + 1);
    mem_free(a, c, sizeof *c);
}

#define BAD(...) hpk_err_set(err, HPK_EINPUT, __VA_ARGS__)

/* Sorting the index arrays needs the tables; qsort has no context pointer, so sort pairs instead. */
typedef struct sort_ref {
    const char *name;
    unsigned group;
    int index;
} sort_ref;

static int cmp_ref(const void *a, const void *b)
{
    const sort_ref *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Checks that s[0..len) has no NUL and s[len] is NUL. */
static bool cstr_ok(const unsigned char *s, uint64_t len) { return s[len] == 0 && !memchr(s, 0, (size_t)len); }

static bool zeros(const unsigned char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int parse_meta(train_ckpt *c, uint64_t off, uint64_t size, uint32_t count, hpk_err *err)
{
    const char *lb = c->label;
    if (count > MAX_ENTRIES || count > size / MIN_META_ENTRY)
        return BAD("%s: metadata section claims %u entries in %llu bytes", lb, count, (unsigned long long)size);
    c->m = mem_alloc(c->alloc, (size_t)count * sizeof *c->m);
    if (!c->m)
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", lb);
    memset(c->m, 0, (size_t)count * sizeof *c->m);
    c->n_m = (int)count;
    uint64_t pos = off, end = off + size;
    for (uint32_t i = 0; i < count; i++) {
        if (end - pos < 16)
            return BAD("%s: metadata entry %u is cut off at byte %llu", lb, i, (unsigned long long)pos);
        const unsigned char *p = c->buf + pos;
        uint32_t klen = get32(p), type = get32(p + 4);
        uint64_t vlen = get64(p + 8);
        if (klen == 0 || klen > TRAIN_CKPT_MAX_NAME)
            return BAD("%s: metadata entry %u: key length %u out of range (at byte %llu)", lb, i, klen,
                       (unsigned long long)pos);
        if (type < TRAIN_CKPT_I64 || type > TRAIN_CKPT_STR)
            return BAD("%s: metadata entry %u: unknown type %u (at byte %llu)", lb, i, type, (unsigned long long)pos);
        if (type != TRAIN_CKPT_STR && vlen != 8)
            return BAD("%s: metadata entry %u: a number has %llu bytes, not 8", lb, i, (unsigned long long)vlen);
        uint64_t vbytes = type == TRAIN_CKPT_STR ? vlen + 1 : 8, esz;
        if (vlen > size || !add_ok(16 + (uint64_t)klen + 1, vbytes, &esz) || (esz = align_up(esz, 8)) > end - pos)
            return BAD("%s: metadata entry %u (at byte %llu) runs past its section", lb, i, (unsigned long long)pos);
        const unsigned char *key = p + 16, *val = key + klen + 1;
        if (!cstr_ok(key, klen))
            return BAD("%s: metadata entry %u: the key is not a string", lb, i);
        uint64_t used = 16 + (uint64_t)klen + 1 + vbytes;
        if (!zeros(p + used, esz - used))
            return BAD("%s: metadata entry %u ('%s'): non-zero padding", lb, i, (const char *)key);
        train_ckpt_meta *m = &c->m[i];
        m->key = (const char *)key;
        m->type = (int)type;
        if (type == TRAIN_CKPT_STR) {
            if (!cstr_ok(val, vlen))
                return BAD("%s: metadata '%s': the value is not a string (NUL inside or missing)", lb, m->key);
            m->s = (const char *)val;
            m->s_len = (size_t)vlen;
        } else if (type == TRAIN_CKPT_I64) {
            m->i = (int64_t)get64(val);
        } else {
            uint64_t bits = get64(val);
            memcpy(&m->f, &bits, 8);
        }
        pos += esz;
    }
    if (pos != end)
        return BAD("%s: metadata section has %llu unexplained bytes", lb, (unsigned long long)(end - pos));
    return HPK_OK;
}

static int parse_tensors(train_ckpt *c, uint64_t off, uint64_t size, uint32_t count, uint64_t data_off,
                         uint64_t data_size, hpk_err *err)
{
    const char *lb = c->label;
    if (count > MAX_ENTRIES || count > size / MIN_TENSOR_ENTRY)
        return BAD("%s: tensor section claims %u entries in %llu bytes", lb, count, (unsigned long long)size);
    c->t = mem_alloc(c->alloc, (size_t)count * sizeof *c->t);
    if (!c->t)
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", lb);
    memset(c->t, 0, (size_t)count * sizeof *c->t);
    c->n_t = (int)count;
    uint64_t pos = off, end = off + size;
    uint64_t data_pos = data_off, data_end = data_off + data_size;
    for (uint32_t i = 0; i < count; i++) {
        if (end - pos < 16)
            return BAD("%s: tensor entry %u is cut off at byte %llu", lb, i, (unsigned long long)pos);
        const unsigned char *p = c->buf + pos;
        uint32_t nlen = get32(p), group = get32(p + 4), dtype = get32(p + 8), rank = get32(p + 12);
        if (nlen == 0 || nlen > TRAIN_CKPT_MAX_NAME)
            return BAD("%s: tensor entry %u: name length %u out of range (at byte %llu)", lb, i, nlen,
                       (unsigned long long)pos);
        if (rank > HPK_MAX_RANK)
            return BAD("%s: tensor entry %u: rank %u out of range", lb, i, rank);
        uint64_t esz = align_up(16 + 8 * (uint64_t)rank + 16 + (uint64_t)nlen + 1, 8);
        if (esz > end - pos)
            return BAD("%s: tensor entry %u (at byte %llu) runs past its section", lb, i, (unsigned long long)pos);
        const unsigned char *name = p + 16 + 8 * rank + 16;
        if (!cstr_ok(name, nlen))
            return BAD("%s: tensor entry %u: the name is not a string", lb, i);
        uint64_t used = 16 + 8 * (uint64_t)rank + 16 + (uint64_t)nlen + 1;
        if (!zeros(p + used, esz - used))
            return BAD("%s: tensor '%s': non-zero padding", lb, (const char *)name);
        train_ckpt_tensor *t = &c->t[i];
        t->name = (const char *)name;
        if (group >= TRAIN_CKPT_MAX_GROUPS)
            return BAD("%s: tensor '%s': group %u out of range", lb, t->name, group);
        if (!dtype_ok((int)dtype))
            return BAD("%s: tensor '%s': dtype %u is not float32, uint8 or int64", lb, t->name, dtype);
        t->group = group;
        t->dtype = (int)dtype;
        t->rank = (int)rank;
        uint64_t numel = 1, nbytes;
        bool ovf = false;
        for (uint32_t d = 0; d < rank; d++) {
            uint64_t v = get64(p + 16 + 8 * d);
            if (v > (uint64_t)INT64_MAX)
                return BAD("%s: tensor '%s': dim %u is negative", lb, t->name, d);
            t->dims[d] = (int64_t)v;
            ovf |= __builtin_mul_overflow(numel, v, &numel);
        }
        ovf |= __builtin_mul_overflow(numel, (uint64_t)hpk_dtype_size((int)dtype), &nbytes);
        uint64_t poff = get64(p + 16 + 8 * rank), psize = get64(p + 16 + 8 * rank + 8);
        if (ovf || nbytes != psize)
            return BAD("%s: tensor '%s': its dims need %s bytes but the entry says %llu", lb, t->name,
                       ovf ? "more than 2^64" : "a different number of", (unsigned long long)psize);
        uint64_t expect = align_up(data_pos, PAYLOAD_ALIGN), pend;
        if (poff != expect)
            return BAD("%s: tensor '%s': payload offset %llu, expected %llu", lb, t->name, (unsigned long long)poff,
                       (unsigned long long)expect);
        if (!add_ok(poff, psize, &pend) || pend > data_end)
            return BAD("%s: tensor '%s': payload of %llu bytes at %llu runs past the data section (ends at %llu)", lb,
                       t->name, (unsigned long long)psize, (unsigned long long)poff, (unsigned long long)data_end);
        if (!zeros(c->buf + data_pos, poff - data_pos))
            return BAD("%s: tensor '%s': non-zero padding before the payload", lb, t->name);
        t->data = c->buf + poff;
        t->nbytes = (size_t)psize;
        data_pos = pend;
        pos += esz;
    }
    if (pos != end)
        return BAD("%s: tensor section has %llu unexplained bytes", lb, (unsigned long long)(end - pos));
    if (align_up(data_pos, 8) != data_end || !zeros(c->buf + data_pos, data_end - data_pos))
        return BAD("%s: data section has %llu unexplained bytes", lb, (unsigned long long)(data_end - data_pos));
    return HPK_OK;
}

static int build_orders(train_ckpt *c, hpk_err *err)
{
    const char *lb = c->label;
    size_t n = (size_t)(c->n_t > c->n_m ? c->n_t : c->n_m);
    sort_ref *r = mem_alloc(c->alloc, n * sizeof *r);
    c->t_order = mem_alloc(c->alloc, (size_t)c->n_t * sizeof *c->t_order);
    c->m_order = mem_alloc(c->alloc, (size_t)c->n_m * sizeof *c->m_order);
    int rc = HPK_OK;
    if (!r || !c->t_order || !c->m_order) {
        rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", lb);
        goto out;
    }
    for (int i = 0; i < c->n_t; i++)
        r[i] = (sort_ref){c->t[i].name, c->t[i].group, i};
    qsort(r, (size_t)c->n_t, sizeof *r, cmp_ref);
    for (int i = 0; i < c->n_t; i++) {
        if (i > 0 && cmp_ref(&r[i - 1], &r[i]) == 0) {
            rc = BAD("%s: tensor '%s' appears twice in group %u", lb, r[i].name, r[i].group);
            goto out;
        }
        c->t_order[i] = r[i].index;
    }
    for (int i = 0; i < c->n_m; i++)
        r[i] = (sort_ref){c->m[i].key, 0, i};
    qsort(r, (size_t)c->n_m, sizeof *r, cmp_ref);
    for (int i = 0; i < c->n_m; i++) {
        if (i > 0 && cmp_ref(&r[i - 1], &r[i]) == 0) {
            rc = BAD("%s: metadata key '%s' appears twice", lb, r[i].name);
            goto out;
        }
        c->m_order[i] = r[i].index;
    }
out:
    mem_free(c->alloc, r, n * sizeof *r);
    return rc;
}

/* Validates c->buf[0..c->size). */
static int parse_buffer(train_ckpt *c, hpk_err *err)
{
    const char *lb = c->label;
    const unsigned char *b = c->buf;
    uint64_t n = c->size;
    const uint64_t min_size = TABLE_END + TRAILER;
    if (n < 8 && memcmp(b, k_magic, (size_t)n) == 0)
        return BAD("%s: truncated at byte %llu (%s)", lb, (unsigned long long)n,
                   n == 0 ? "empty file" : "a checkpoint has at least 168 bytes");
    if (n < 8 || memcmp(b, k_magic, 8) != 0)
        return BAD("%s: not an hpk checkpoint (bad magic)", lb);
    if (n < HDR_SIZE)
        return BAD("%s: truncated at byte %llu (inside the header)", lb, (unsigned long long)n);
    uint32_t version = get32(b + 8);
    bool hdr_ok = get32(b + 56) == train_crc32c(0, b, 56);
    if (!hdr_ok)
        return BAD("%s: header checksum mismatch (the header is corrupt)", lb);
    if (version != TRAIN_CKPT_VERSION)
        return BAD("%s: checkpoint format version %u is not supported (this hpk reads version %u)", lb, version,
                   TRAIN_CKPT_VERSION);
    uint64_t fsize = get64(b + 16);
    if (get32(b + 12) != HDR_SIZE || get32(b + 24) != N_SECTIONS || get32(b + 28) != 0 ||
        get64(b + 32) != HDR_SIZE || !zeros(b + 40, 16) || get32(b + 60) != 0)
        return BAD("%s: unexpected header fields for version 1", lb);
    if (fsize < min_size)
        return BAD("%s: the header claims a file of %llu bytes, less than the minimum %llu", lb,
                   (unsigned long long)fsize, (unsigned long long)min_size);
    if (n < fsize)
        return BAD("%s: truncated at byte %llu (the header says the file has %llu bytes)", lb, (unsigned long long)n,
                   (unsigned long long)fsize);
    if (n > fsize)
        return BAD("%s: %llu bytes of trailing data after the checkpoint's %llu bytes", lb,
                   (unsigned long long)(n - fsize), (unsigned long long)fsize);
    if (memcmp(b + n - 4, k_end, 4) != 0)
        return BAD("%s: the end marker is missing (truncated or corrupt at byte %llu)", lb,
                   (unsigned long long)(n - 4));
    uint32_t stored = get32(b + n - TRAILER), computed = train_crc32c(0, b, (size_t)(n - TRAILER));
    if (stored != computed)
        return BAD("%s: checksum mismatch (stored 0x%08x, computed 0x%08x): the file is corrupt", lb, stored, computed);

    /* the checksum is right; still trust nothing (a crafted file can have right checksums) */
    uint64_t off[N_SECTIONS], size[N_SECTIONS];
    uint32_t count[N_SECTIONS];
    uint64_t expect = TABLE_END;
    for (unsigned i = 0; i < N_SECTIONS; i++) {
        const unsigned char *s = b + HDR_SIZE + i * SEC_ENTRY;
        if (get32(s) != i + 1 || get64(s + 24) != 0)
            return BAD("%s: section table entry %u is not the expected section", lb, i);
        count[i] = get32(s + 4);
        off[i] = get64(s + 8);
        size[i] = get64(s + 16);
        if (off[i] != expect || (size[i] & 7u) || size[i] > fsize - TRAILER - off[i])
            return BAD("%s: section %u (offset %llu, %llu bytes) is out of place", lb, i + 1,
                       (unsigned long long)off[i], (unsigned long long)size[i]);
        expect = off[i] + size[i];
    }
    if (expect != fsize - TRAILER)
        return BAD("%s: the sections do not reach the trailer", lb);
    if (count[1] != count[2])
        return BAD("%s: %u tensor entries but %u payloads", lb, count[1], count[2]);
    int rc = parse_meta(c, off[0], size[0], count[0], err);
    if (!rc)
        rc = parse_tensors(c, off[1], size[1], count[1], off[2], size[2], err);
    if (!rc)
        rc = build_orders(c, err);
    return rc;
}

static int ckpt_new(hpk_alloc alloc, const char *label, train_ckpt **out, hpk_err *err)
{
    train_ckpt *c = mem_alloc(alloc, sizeof *c);
    if (!c)
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", label);
    memset(c, 0, sizeof *c);
    c->alloc = alloc;
    c->label = mem_strdup(alloc, label, &c->label_len);
    if (!c->label) {
        mem_free(alloc, c, sizeof *c);
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", label);
    }
    *out = c;
    return HPK_OK;
}

int train_ckpt_parse(const void *buf, size_t n, const char *label, hpk_alloc alloc, train_ckpt **out,
                     hpk_err *err)
{
    *out = NULL;
    train_ckpt *c;
    int rc = ckpt_new(alloc, label, &c, err);
    if (rc)
        return rc;
    c->buf = mem_alloc(alloc, n);
    if (!c->buf) {
        train_ckpt_free(c);
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory (%zu bytes)", label, n);
    }
    c->size = n;
    if (n)
        memcpy(c->buf, buf, n);
    rc = parse_buffer(c, err);
    if (rc) {
        train_ckpt_free(c);
        return rc;
    }
    *out = c;
    return HPK_OK;
}

int train_ckpt_read(const char *path, hpk_alloc alloc, train_ckpt **out, hpk_err *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return hpk_err_set(err, errno == ENOENT ? HPK_EINPUT : HPK_EIO, "%s: cannot open the checkpoint (%s)", path,
                           strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return hpk_err_set(err, HPK_EINPUT, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > TRAIN_CKPT_MAX_FILE || (uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return hpk_err_set(err, HPK_EINPUT, "%s: %lld bytes is too large for a checkpoint", path,
                           (long long)st.st_size);
    }
    train_ckpt *c;
    int rc = ckpt_new(alloc, path, &c, err);
    if (rc) {
        close(fd);
        return rc;
    }
    size_t n = (size_t)st.st_size;
    c->buf = mem_alloc(alloc, n);
    c->size = n;
    if (!c->buf) {
        close(fd);
        train_ckpt_free(c);
        return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory (%zu bytes)", path, n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, c->buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            close(fd);
            train_ckpt_free(c);
            return hpk_err_set(err, HPK_EIO, "%s: read error at byte %zu (%s)", path, got, strerror(e));
        }
        if (k == 0)
            break; /* the file shrank since fstat: parse what is there (reported as truncated) */
        got += (size_t)k;
    }
    close(fd);
    if (got < n) { /* keep the allocation size bookkeeping: only the parsed length changes */
        unsigned char *q = mem_alloc(alloc, got);
        if (!q) {
            train_ckpt_free(c);
            return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", path);
        }
        memcpy(q, c->buf, got);
        mem_free(alloc, c->buf, n);
        c->buf = q;
        c->size = got;
    }
    rc = parse_buffer(c, err);
    if (rc) {
        train_ckpt_free(c);
        return rc;
    }
    *out = c;
    return HPK_OK;
}

const char *train_ckpt_label(const train_ckpt *c) { return c->label; }
int train_ckpt_n_tensors(const train_ckpt *c) { return c->n_t; }
const train_ckpt_tensor *train_ckpt_tensor_at(const train_ckpt *c, int i)
{
    return i >= 0 && i < c->n_t ? &c->t[i] : NULL;
}
int train_ckpt_n_meta(const train_ckpt *c) { return c->n_m; }
const train_ckpt_meta *train_ckpt_meta_at(const train_ckpt *c, int i) { return i >= 0 && i < c->n_m ? &c->m[i] : NULL; }

const train_ckpt_tensor *train_ckpt_find(const train_ckpt *c, unsigned group, const char *name)
{
    int lo = 0, hi = c->n_t - 1;
    sort_ref key = {name, group, 0};
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const train_ckpt_tensor *t = &c->t[c->t_order[mid]];
        sort_ref r = {t->name, t->group, 0};
        int k = cmp_ref(&key, &r);
        if (k == 0)
            return t;
        if (k < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

const train_ckpt_meta *train_ckpt_meta_find(const train_ckpt *c, const char *key)
{
    int lo = 0, hi = c->n_m - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const train_ckpt_meta *m = &c->m[c->m_order[mid]];
        int k = strcmp(key, m->key);
        if (k == 0)
            return m;
        if (k < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const char *meta_type_name(int t)
{
    return t == TRAIN_CKPT_I64 ? "an integer" : t == TRAIN_CKPT_F64 ? "a float" : "a string";
}

static const train_ckpt_meta *meta_get(const train_ckpt *c, const char *key, int type, hpk_err *err)
{
    const train_ckpt_meta *m = train_ckpt_meta_find(c, key);
    if (!m) {
        hpk_err_set(err, HPK_EINPUT, "%s: the checkpoint has no '%s'", c->label, key);
        return NULL;
    }
    if (m->type != type) {
        hpk_err_set(err, HPK_EINPUT, "%s: '%s' is %s, expected %s", c->label, key, meta_type_name(m->type),
                    meta_type_name(type));
        return NULL;
    }
    return m;
}

int train_ckpt_get_i64(const train_ckpt *c, const char *key, int64_t *out, hpk_err *err)
{
    const train_ckpt_meta *m = meta_get(c, key, TRAIN_CKPT_I64, err);
    if (!m)
        return HPK_EINPUT;
    *out = m->i;
    return HPK_OK;
}

int train_ckpt_get_f64(const train_ckpt *c, const char *key, double *out, hpk_err *err)
{
    const train_ckpt_meta *m = meta_get(c, key, TRAIN_CKPT_F64, err);
    if (!m)
        return HPK_EINPUT;
    *out = m->f;
    return HPK_OK;
}

int train_ckpt_get_str(const train_ckpt *c, const char *key, const char **out, size_t *len, hpk_err *err)
{
    const train_ckpt_meta *m = meta_get(c, key, TRAIN_CKPT_STR, err);
    if (!m)
        return HPK_EINPUT;
    *out = m->s;
    if (len)
        *len = m->s_len;
    return HPK_OK;
}

int train_ckpt_get_rng(const train_ckpt *c, const char *prefix, ir_rng *r, hpk_err *err)
{
    char key[TRAIN_CKPT_MAX_NAME + 1];
    int64_t state, inc, flag, spare;
    int rc;
    if ((rc = rng_key(key, sizeof key, prefix, "state", err)) || (rc = train_ckpt_get_i64(c, key, &state, err)) ||
        (rc = rng_key(key, sizeof key, prefix, "inc", err)) || (rc = train_ckpt_get_i64(c, key, &inc, err)) ||
        (rc = rng_key(key, sizeof key, prefix, "spare_flag", err)) ||
        (rc = train_ckpt_get_i64(c, key, &flag, err)) || (rc = rng_key(key, sizeof key, prefix, "spare", err)) ||
        (rc = train_ckpt_get_i64(c, key, &spare, err)))
        return rc;
    if ((flag != 0 && flag != 1) || !((uint64_t)inc & 1u))
        return hpk_err_set(err, HPK_EINPUT, "%s: RNG state '%s' is invalid", c->label, prefix);
    r->state = (uint64_t)state;
    r->inc = (uint64_t)inc;
    r->has_spare = (int)flag;
    uint64_t bits = (uint64_t)spare;
    memcpy(&r->spare, &bits, 8);
    return HPK_OK;
}

int train_ckpt_load_graph(const train_ckpt *c, ir_graph *g, hpk_err *err)
{
    char b1[160], b2[160];
    /* pass 1: every model parameter/state has a matching tensor */
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->init || !(val->flags & (IR_VAL_PARAM | IR_VAL_STATE)))
            continue;
        const ir_tensor *it = val->init;
        const train_ckpt_tensor *t = train_ckpt_find(c, TRAIN_CKPT_MODEL, val->name);
        if (!t)
            return hpk_err_set(err, HPK_EINPUT, "%s: tensor '%s' of the model is missing from the checkpoint",
                               c->label, val->name);
        if (t->dtype != (int)it->dtype)
            return hpk_err_set(err, HPK_EINPUT, "%s: tensor '%s' is %s in the checkpoint but %s in the model",
                               c->label, val->name, hpk_dtype_name(t->dtype), ir_dtype_name(it->dtype));
        ir_shape ts = ir_shape_make(t->rank, t->dims);
        if (!ir_shape_eq(&ts, &it->shape) || t->nbytes != it->nbytes)
            return hpk_err_set(err, HPK_EINPUT, "%s: tensor '%s' has shape %s in the checkpoint but %s in the model",
                               c->label, val->name, ir_shape_str(g, &ts, b1, sizeof b1),
                               ir_shape_str(g, &it->shape, b2, sizeof b2));
    }
    /* pass 2: no extra tensors */
    for (int i = 0; i < c->n_t; i++) {
        const train_ckpt_tensor *t = &c->t[i];
        if (t->group != TRAIN_CKPT_MODEL)
            continue;
        int v = ir_graph_find(g, t->name);
        if (v < 0 || !g->values[v].init || !(g->values[v].flags & (IR_VAL_PARAM | IR_VAL_STATE)))
            return hpk_err_set(err, HPK_EINPUT, "%s: checkpoint tensor '%s' is not a parameter of the model",
                               c->label, t->name);
    }
    /* pass 3: copy */
    for (int i = 0; i < c->n_t; i++) {
        const train_ckpt_tensor *t = &c->t[i];
        if (t->group != TRAIN_CKPT_MODEL)
            continue;
        ir_tensor *it = g->values[ir_graph_find(g, t->name)].init;
        if (t->nbytes)
            memcpy(it->data, t->data, t->nbytes);
    }
    return HPK_OK;
}
