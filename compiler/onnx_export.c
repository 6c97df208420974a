/* onnx_export.c — hpk IR to ONNX ModelProto (protobuf-c), names preserved, written atomically.
 *
 * The ModelProto is built in a scratch arena (through the graph's allocator) whose strings and arrays are
 * copies or direct views of the graph (initializer payloads are packed as raw_data straight from the graph,
 * little-endian), packed once, and the arena dropped. Value infos carry dtype and shape for the graph inputs,
 * outputs and every intermediate value with a known dtype; symbolic dims are written as dim_param, anonymous
 * ones ("?k", which the rules could not name) as unset dims. Stages travel in metadata_props ("hpk.stage.NAME"
 * = "STRIDE:VALUE"), so a built model's stages survive export and import. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.h"
#include "onnx.pb-c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ONNX exporter writes payloads as raw little-endian bytes: port it before using a big-endian host"
#endif

#define ARENA_CHUNK 65536
#define ARENA_ALIGN 16

typedef struct ex_chunk {
    struct ex_chunk *next;
    size_t size, used;
} ex_chunk;

#define CHUNK_HDR ((sizeof(ex_chunk) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

typedef struct ex {
    ir_graph *g;
    ex_chunk *chunks;
    hpk_err *err;
} ex;

static void *ex_alloc(ex *x, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n)
        return NULL;
    if (!need)
        need = ARENA_ALIGN;
    ex_chunk *c = x->chunks;
    if (!c || c->size - c->used < need) {
        size_t sz = need > ARENA_CHUNK ? need : ARENA_CHUNK, total;
        if (__builtin_add_overflow(sz, CHUNK_HDR, &total) || !(c = ir_alloc(x->g, total)))
            return NULL;
        c->size = sz;
        c->used = 0;
        c->next = x->chunks;
        x->chunks = c;
    }
    void *p = (char *)c + CHUNK_HDR + c->used;
    c->used += need;
    memset(p, 0, need);
    return p;
}

static void ex_free(ex *x)
{
    for (ex_chunk *c = x->chunks, *nx; c; c = nx) {
        nx = c->next;
        ir_dealloc(x->g, c, CHUNK_HDR + c->size);
    }
    x->chunks = NULL;
}

static char *ex_strn(ex *x, const char *s, size_t n)
{
    char *p = ex_alloc(x, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

static char *ex_str(ex *x, const char *s)
{
    return ex_strn(x, s ? s : "", s ? strlen(s) : 0);
}

/* A zeroed arena copy of a message initialized from its protobuf-c INIT template. */
static void *ex_new(ex *x, size_t size, const void *tmpl)
{
    void *p = ex_alloc(x, size);
    if (p)
        memcpy(p, tmpl, size);
    return p;
}
#define NEW(x, T, INIT) ((T *)ex_new((x), sizeof(T), &(const T)INIT))

static int oom(ex *x)
{
    return hpk_err_set(x->err, HPK_ENOMEM, "out of memory building the ONNX model");
}

static Onnx__TensorProto *ex_tensor(ex *x, const char *name, const ir_tensor *t)
{
    Onnx__TensorProto *tp = NEW(x, Onnx__TensorProto, ONNX__TENSOR_PROTO__INIT);
    if (!tp)
        return NULL;
    tp->n_dims = (size_t)t->shape.rank;
    if (t->shape.rank > 0) {
        if (!(tp->dims = ex_alloc(x, sizeof(int64_t) * (size_t)t->shape.rank)))
            return NULL;
        memcpy(tp->dims, t->shape.d, sizeof(int64_t) * (size_t)t->shape.rank);
    }
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    if (name && !(tp->name = ex_str(x, name)))
        return NULL;
    tp->has_raw_data = 1;
    tp->raw_data.len = t->nbytes;
    tp->raw_data.data = t->data; /* a view: packed straight from the graph */
    return tp;
}

static Onnx__TypeProto *ex_type(ex *x, ir_dtype dt, const ir_shape *s)
{
    Onnx__TypeProto *tp = NEW(x, Onnx__TypeProto, ONNX__TYPE_PROTO__INIT);
    Onnx__TypeProto__Tensor *tt = NEW(x, Onnx__TypeProto__Tensor, ONNX__TYPE_PROTO__TENSOR__INIT);
    if (!tp || !tt)
        return NULL;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)dt;
    if (s->rank < 0)
        return tp;
    Onnx__TensorShapeProto *sp = NEW(x, Onnx__TensorShapeProto, ONNX__TENSOR_SHAPE_PROTO__INIT);
    if (!sp)
        return NULL;
    tt->shape = sp;
    sp->n_dim = (size_t)s->rank;
    if (s->rank && !(sp->dim = ex_alloc(x, sizeof(void *) * (size_t)s->rank)))
        return NULL;
    for (int i = 0; i < s->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d =
            NEW(x, Onnx__TensorShapeProto__Dimension, ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT);
        if (!d)
            return NULL;
        sp->dim[i] = d;
        if (s->d[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = s->d[i];
        } else {
            int64_t sym = -s->d[i] - 1;
            const char *nm = sym < x->g->n_syms ? x->g->syms[sym] : NULL;
            if (nm && nm[0] && nm[0] != '?') {
                d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                if (!(d->dim_param = ex_str(x, nm)))
                    return NULL;
            } /* anonymous: left unset */
        }
    }
    return tp;
}

static Onnx__ValueInfoProto *ex_vi(ex *x, int v)
{
    const ir_value *val = &x->g->values[v];
    Onnx__ValueInfoProto *vi = NEW(x, Onnx__ValueInfoProto, ONNX__VALUE_INFO_PROTO__INIT);
    if (!vi || !(vi->name = ex_str(x, val->name)))
        return NULL;
    const ir_shape *s = val->init ? &val->init->shape : &val->shape;
    ir_dtype dt = val->init ? val->init->dtype : val->dtype;
    if (!(vi->type = ex_type(x, dt, s)))
        return NULL;
    return vi;
}

static int ex_attr(ex *x, const ir_node *n, const ir_attr *a, Onnx__AttributeProto **out)
{
    Onnx__AttributeProto *ap = NEW(x, Onnx__AttributeProto, ONNX__ATTRIBUTE_PROTO__INIT);
    if (!ap || !(ap->name = ex_str(x, a->name)))
        return oom(x);
    ap->has_type = 1;
    switch (a->type) {
    case IR_ATTR_FLOAT:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case IR_ATTR_INT:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case IR_ATTR_STRING:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        ap->has_s = 1;
        ap->s.len = a->s ? a->s_len : 0;
        if (!(ap->s.data = (uint8_t *)ex_strn(x, a->s ? a->s : "", ap->s.len)))
            return oom(x);
        break;
    case IR_ATTR_TENSOR:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
        if (!a->t)
            return hpk_err_set(x->err, HPK_EINTERNAL, "node '%s': tensor attribute '%s' has no tensor", n->name,
                               a->name);
        if (!(ap->t = ex_tensor(x, NULL, a->t)))
            return oom(x);
        break;
    case IR_ATTR_FLOATS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        ap->n_floats = (size_t)(a->n > 0 ? a->n : 0);
        ap->floats = a->floats;
        break;
    case IR_ATTR_INTS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        ap->n_ints = (size_t)(a->n > 0 ? a->n : 0);
        ap->ints = a->ints;
        break;
    case IR_ATTR_STRINGS:
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
        ap->n_strings = (size_t)(a->n > 0 ? a->n : 0);
        if (ap->n_strings && !(ap->strings = ex_alloc(x, sizeof(ProtobufCBinaryData) * ap->n_strings)))
            return oom(x);
        for (size_t i = 0; i < ap->n_strings; i++) {
            ap->strings[i].len = strlen(a->strings[i]);
            if (!(ap->strings[i].data = (uint8_t *)ex_str(x, a->strings[i])))
                return oom(x);
        }
        break;
    default:
        return hpk_err_set(x->err, HPK_EINTERNAL, "node '%s': attribute '%s' has an invalid type %d", n->name,
                           a->name, (int)a->type);
    }
    *out = ap;
    return HPK_OK;
}

static int ex_node(ex *x, const ir_node *n, Onnx__NodeProto **out)
{
    const ir_graph *g = x->g;
    if ((unsigned)n->op >= IR_OP_COUNT)
        return hpk_err_set(x->err, HPK_EINTERNAL, "node '%s' has an invalid op", n->name);
    const ir_op_info *info = &ir_op_table[n->op];
    if ((info->flags & IR_OPF_INTERNAL) || !(info->flags & IR_OPF_ONNX))
        return hpk_err_set(x->err, HPK_EUNSUPPORTED, "node '%s': op '%s' (domain %s) is internal to hpk and cannot "
                           "be exported to ONNX", n->name, info->id, info->domain[0] ? info->domain : "ai.hpk");
    int rc = onnx_node_check_opset(g, n, g->opset > 0 ? g->opset : 13, x->err);
    if (rc)
        return rc;
    Onnx__NodeProto *np = NEW(x, Onnx__NodeProto, ONNX__NODE_PROTO__INIT);
    if (!np || !(np->name = ex_str(x, n->name)) || !(np->op_type = ex_str(x, info->onnx_name)))
        return oom(x);
    np->n_input = (size_t)n->n_in;
    np->n_output = (size_t)n->n_out;
    if ((n->n_in && !(np->input = ex_alloc(x, sizeof(char *) * (size_t)n->n_in))) ||
        (n->n_out && !(np->output = ex_alloc(x, sizeof(char *) * (size_t)n->n_out))))
        return oom(x);
    for (int i = 0; i < n->n_in; i++) {
        int v = n->in[i];
        if (v >= g->n_values)
            return hpk_err_set(x->err, HPK_EINTERNAL, "node '%s' reads an invalid value id", n->name);
        if (!(np->input[i] = ex_str(x, v >= 0 ? g->values[v].name : "")))
            return oom(x);
    }
    for (int i = 0; i < n->n_out; i++) {
        int v = n->out[i];
        if (v >= g->n_values)
            return hpk_err_set(x->err, HPK_EINTERNAL, "node '%s' writes an invalid value id", n->name);
        if (!(np->output[i] = ex_str(x, v >= 0 ? g->values[v].name : "")))
            return oom(x);
    }
    np->n_attribute = (size_t)n->n_attr;
    if (n->n_attr && !(np->attribute = ex_alloc(x, sizeof(void *) * (size_t)n->n_attr)))
        return oom(x);
    for (int a = 0; a < n->n_attr; a++) {
        rc = ex_attr(x, n, &n->attr[a], &np->attribute[a]);
        if (rc)
            return rc;
    }
    *out = np;
    return HPK_OK;
}

/* Builds the ModelProto in x's arena. */
static int ex_model(ex *x, Onnx__ModelProto **out)
{
    ir_graph *g = x->g;
    int rc;
    Onnx__ModelProto *mp = NEW(x, Onnx__ModelProto, ONNX__MODEL_PROTO__INIT);
    Onnx__GraphProto *gp = NEW(x, Onnx__GraphProto, ONNX__GRAPH_PROTO__INIT);
    Onnx__OperatorSetIdProto *os = NEW(x, Onnx__OperatorSetIdProto, ONNX__OPERATOR_SET_ID_PROTO__INIT);
    if (!mp || !gp || !os || !(mp->opset_import = ex_alloc(x, sizeof(void *))) || !(os->domain = ex_str(x, "")))
        return oom(x);
    mp->has_ir_version = 1;
    mp->ir_version = g->ir_version > 0 ? g->ir_version : 8;
    os->has_version = 1;
    os->version = g->opset > 0 ? g->opset : 13;
    mp->n_opset_import = 1;
    mp->opset_import[0] = os;
    bool ours = !g->producer_name || !g->producer_name[0];
    if (!(mp->producer_name = ex_str(x, ours ? "hpk" : g->producer_name)))
        return oom(x);
    const char *pv = ours ? "0.1.0" : g->producer_version;
    if (pv && pv[0] && !(mp->producer_version = ex_str(x, pv)))
        return oom(x);
    if (g->model_version) {
        mp->has_model_version = 1;
        mp->model_version = g->model_version;
    }
    if (g->doc && g->doc[0] && !(mp->doc_string = ex_str(x, g->doc)))
        return oom(x);
    mp->graph = gp;
    if (!(gp->name = ex_str(x, g->name && g->name[0] ? g->name : "hpk")))
        return oom(x);

    /* nodes */
    int live = 0;
    for (int i = 0; i < g->n_nodes; i++)
        live += !g->nodes[i].dead;
    if (live && !(gp->node = ex_alloc(x, sizeof(void *) * (size_t)live)))
        return oom(x);
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead)
            continue;
        if ((rc = ex_node(x, &g->nodes[i], &gp->node[gp->n_node])))
            return rc;
        gp->n_node++;
    }

    /* initializers (raw little-endian), inputs, outputs, value infos */
    int n_init = 0, n_vi = 0;
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (val->init)
            n_init++;
        else if (!(val->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)) && val->dtype != IR_DT_UNDEF)
            n_vi++;
    }
    bool inits_as_inputs = mp->ir_version < 4; /* IR 3 requires every initializer to be a graph input */
    size_t n_in = (size_t)g->n_inputs + (inits_as_inputs ? (size_t)n_init : 0);
    if ((n_init && !(gp->initializer = ex_alloc(x, sizeof(void *) * (size_t)n_init))) ||
        (n_in && !(gp->input = ex_alloc(x, sizeof(void *) * n_in))) ||
        (g->n_outputs && !(gp->output = ex_alloc(x, sizeof(void *) * (size_t)g->n_outputs))) ||
        (n_vi && !(gp->value_info = ex_alloc(x, sizeof(void *) * (size_t)n_vi))))
        return oom(x);
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        if (v < 0 || v >= g->n_values)
            return hpk_err_set(x->err, HPK_EINTERNAL, "graph input %d has an invalid value id", i);
        if (g->values[v].dtype == IR_DT_UNDEF && !g->values[v].init)
            return hpk_err_set(x->err, HPK_EINPUT, "graph input '%s' has no dtype", g->values[v].name);
        if (!(gp->input[gp->n_input++] = ex_vi(x, v)))
            return oom(x);
    }
    for (int v = 0; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (val->init) {
            if (!(gp->initializer[gp->n_initializer++] = ex_tensor(x, val->name, val->init)))
                return oom(x);
            if (inits_as_inputs && !(gp->input[gp->n_input++] = ex_vi(x, v)))
                return oom(x);
        } else if (!(val->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)) && val->dtype != IR_DT_UNDEF) {
            if (!(gp->value_info[gp->n_value_info++] = ex_vi(x, v)))
                return oom(x);
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (v < 0 || v >= g->n_values)
            return hpk_err_set(x->err, HPK_EINTERNAL, "graph output %d has an invalid value id", i);
        if (g->values[v].dtype == IR_DT_UNDEF && !g->values[v].init)
            return hpk_err_set(x->err, HPK_EINPUT, "graph output '%s' has no dtype (run ir_verify before exporting)",
                               g->values[v].name);
        if (!(gp->output[gp->n_output++] = ex_vi(x, v)))
            return oom(x);
    }

    /* stages as metadata */
    if (g->n_stages) {
        if (!(mp->metadata_props = ex_alloc(x, sizeof(void *) * (size_t)g->n_stages)))
            return oom(x);
        for (int i = 0; i < g->n_stages; i++) {
            const ir_stage *st = &g->stages[i];
            if (st->value < 0 || st->value >= g->n_values)
                continue;
            Onnx__StringStringEntryProto *kv =
                NEW(x, Onnx__StringStringEntryProto, ONNX__STRING_STRING_ENTRY_PROTO__INIT);
            const char *vn = g->values[st->value].name;
            size_t kl = strlen(st->name) + 16, vl = strlen(vn) + 24;
            if (!kv || !(kv->key = ex_alloc(x, kl)) || !(kv->value = ex_alloc(x, vl)))
                return oom(x);
            snprintf(kv->key, kl, "hpk.stage.%s", st->name);
            snprintf(kv->value, vl, "%d:%s", st->stride, vn);
            mp->metadata_props[mp->n_metadata_props++] = kv;
        }
    }
    *out = mp;
    return HPK_OK;
}

int onnx_save_buffer(ir_graph *g, void **buf, size_t *n, hpk_err *err)
{
    ex x = {g, NULL, err};
    Onnx__ModelProto *mp = NULL;
    *buf = NULL;
    *n = 0;
    int rc = ex_model(&x, &mp);
    if (rc) {
        ex_free(&x);
        return rc;
    }
    size_t size = onnx__model_proto__get_packed_size(mp);
    if (size > INT_MAX) {
        ex_free(&x);
        return hpk_err_set(err, HPK_EUNSUPPORTED, "the model packs to %zu bytes, more than protobuf's 2 GiB limit "
                           "(exporting external data is not supported)", size);
    }
    uint8_t *out = malloc(size ? size : 1);
    if (!out) {
        ex_free(&x);
        return hpk_err_set(err, HPK_ENOMEM, "out of memory for a %zu-byte ONNX file", size);
    }
    size_t packed = onnx__model_proto__pack(mp, out);
    ex_free(&x);
    if (packed != size) {
        free(out);
        return hpk_err_set(err, HPK_EINTERNAL, "protobuf-c packed %zu bytes, expected %zu", packed, size);
    }
    *buf = out;
    *n = size;
    return HPK_OK;
}

/* Writes buf to path atomically: a temporary file in the same folder, fsync, rename, fsync the folder. */
static int write_atomic(const char *path, const void *buf, size_t n, hpk_err *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 64), *dir = malloc(plen + 2);
    int fd = -1, rc = HPK_OK;
    if (!tmp || !dir) {
        rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (unsigned k = 0; fd < 0; k++) {
        snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(), k);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && (errno != EEXIST || k > 1000)) {
            rc = hpk_err_set(err, HPK_EIO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
            goto done;
        }
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)buf + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = hpk_err_set(err, HPK_EIO, "%s: write failed: %s", path, w < 0 ? strerror(errno) : "no progress");
            goto done;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = hpk_err_set(err, HPK_EIO, "%s: fsync failed: %s", path, strerror(errno));
        goto done;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        rc = hpk_err_set(err, HPK_EIO, "%s: close failed: %s", path, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        rc = hpk_err_set(err, HPK_EIO, "%s: cannot rename the temporary file into place: %s", path, strerror(errno));
        goto done;
    }
    tmp[0] = 0; /* nothing to clean up any more */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
    memcpy(dir, slash ? path : ".", dlen);
    dir[dlen] = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL)
            rc = hpk_err_set(err, HPK_EIO, "%s: fsync of the folder failed: %s", path, strerror(errno));
        close(dfd);
    }
done:
    if (fd >= 0)
        close(fd);
    if (tmp && tmp[0] && rc)
        unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

int onnx_save(ir_graph *g, const char *path, hpk_err *err)
{
    void *buf;
    size_t n;
    hpk_err e = {0};
    int rc = onnx_save_buffer(g, &buf, &n, &e);
    if (rc)
        return hpk_err_set(err, rc, "%s: %s", path, e.msg);
    rc = write_atomic(path, buf, n, err);
    free(buf);
    return rc;
}
