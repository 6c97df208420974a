/* ir_graph.c — graph lifetime, arena, name index, builder API, attributes, stages, compaction and cloning. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

struct ir_arena_block {
    ir_arena_block *next;
    size_t size, used;
    /* payload follows, max-aligned */
};

#define ARENA_ALIGN 16
#define ARENA_BLOCK 65536
#define HDR_SIZE ((sizeof(ir_arena_block) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

void *ir_alloc(ir_graph *g, size_t n)
{
    if (n == 0)
        n = 1;
    return g->alloc.fn(g->alloc.ud, NULL, 0, n);
}

void *ir_realloc(ir_graph *g, void *p, size_t osize, size_t nsize)
{
    return g->alloc.fn(g->alloc.ud, p, osize, nsize ? nsize : 1);
}

void ir_dealloc(ir_graph *g, void *p, size_t n)
{
    if (p)
        g->alloc.fn(g->alloc.ud, p, n, 0);
}

void *ir_arena_alloc(ir_graph *g, size_t n)
{
    size_t need;
    if (__builtin_add_overflow(n, (size_t)(ARENA_ALIGN - 1), &need))
        return NULL;
    need &= ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0)
        need = ARENA_ALIGN;
    ir_arena_block *b = g->arena;
    if (!b || b->size - b->used < need) {
        size_t sz = need > ARENA_BLOCK ? need : ARENA_BLOCK, total;
        if (__builtin_add_overflow(sz, HDR_SIZE, &total))
            return NULL;
        ir_arena_block *nb = ir_alloc(g, total);
        if (!nb)
            return NULL;
        nb->size = sz;
        nb->used = 0;
        /* a big one-off block goes behind the current block so the current one keeps filling */
        if (b && need > ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            g->arena = nb;
        }
        b = nb;
    }
    void *p = (char *)b + HDR_SIZE + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

const char *ir_strndup(ir_graph *g, const char *s, size_t n)
{
    char *p = ir_arena_alloc(g, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

const char *ir_strdup(ir_graph *g, const char *s)
{
    return ir_strndup(g, s ? s : "", s ? strlen(s) : 0);
}

int ir_graph_init(ir_graph **out, hpk_alloc alloc, hpk_err *err)
{
    if (!alloc.fn)
        alloc = hpk_alloc_default();
    ir_graph *g = alloc.fn(alloc.ud, NULL, 0, sizeof *g);
    *out = NULL;
    if (!g)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory creating a graph");
    memset(g, 0, sizeof *g);
    g->alloc = alloc;
    g->ir_version = 8;
    g->opset = 13;
    *out = g;
    return HPK_OK;
}

void ir_tensor_free(ir_graph *g, ir_tensor *t)
{
    if (!t)
        return;
    ir_dealloc(g, t->data, t->nbytes);
    ir_dealloc(g, t, sizeof *t);
}

static void attrs_free_tensors(ir_graph *g, ir_node *n)
{
    for (int a = 0; a < n->n_attr; a++)
        if (n->attr[a].t) {
            ir_tensor_free(g, n->attr[a].t);
            n->attr[a].t = NULL;
        }
}

void ir_graph_free(ir_graph *g)
{
    if (!g)
        return;
    for (int v = 0; v < g->n_values; v++)
        ir_tensor_free(g, g->values[v].init);
    for (int i = 0; i < g->n_nodes; i++)
        attrs_free_tensors(g, &g->nodes[i]);
    ir_dealloc(g, g->values, sizeof(ir_value) * (size_t)g->cap_values);
    ir_dealloc(g, g->nodes, sizeof(ir_node) * (size_t)g->cap_nodes);
    ir_dealloc(g, g->inputs, sizeof(int) * (size_t)g->cap_inputs);
    ir_dealloc(g, g->outputs, sizeof(int) * (size_t)g->cap_outputs);
    ir_dealloc(g, g->syms, sizeof(char *) * (size_t)g->cap_syms);
    ir_dealloc(g, g->sym_index, sizeof(int) * (size_t)g->sym_index_cap);
    ir_dealloc(g, g->index, sizeof(int) * (size_t)g->index_cap);
    ir_arena_block *b = g->arena;
    while (b) {
        ir_arena_block *nx = b->next;
        ir_dealloc(g, b, HDR_SIZE + b->size);
        b = nx;
    }
    hpk_alloc a = g->alloc;
    a.fn(a.ud, g, sizeof *g, 0);
}

/* Grows an array of elem-sized items to hold at least need items. */
static int grow(ir_graph *g, void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return HPK_OK;
    if (need > (1 << 28))
        return HPK_ENOMEM;
    int nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *p = ir_realloc(g, *arr, elem * (size_t)*cap, elem * (size_t)nc);
    if (!p)
        return HPK_ENOMEM;
    memset((char *)p + elem * (size_t)*cap, 0, elem * (size_t)(nc - *cap));
    *arr = p;
    *cap = nc;
    return HPK_OK;
}

static int index_rebuild(ir_graph *g);

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int index_put(ir_graph *g, int id)
{
    if ((g->n_values + 1) * 2 > g->index_cap) {
        int ncap = g->index_cap ? g->index_cap * 2 : 64;
        while (ncap < (g->n_values + 1) * 2)
            ncap *= 2;
        int *ni = ir_alloc(g, sizeof(int) * (size_t)ncap);
        if (!ni)
            return HPK_ENOMEM;
        memset(ni, 0, sizeof(int) * (size_t)ncap);
        int *old = g->index;
        int oldcap = g->index_cap;
        g->index = ni;
        g->index_cap = ncap;
        for (int v = 0; v < g->n_values; v++) {
            if (v == id)
                continue;
            uint64_t h = hash_str(g->values[v].name) & (uint64_t)(ncap - 1);
            while (ni[h])
                h = (h + 1) & (uint64_t)(ncap - 1);
            ni[h] = v + 1;
        }
        ir_dealloc(g, old, sizeof(int) * (size_t)oldcap);
    }
    uint64_t h = hash_str(g->values[id].name) & (uint64_t)(g->index_cap - 1);
    while (g->index[h])
        h = (h + 1) & (uint64_t)(g->index_cap - 1);
    g->index[h] = id + 1;
    return HPK_OK;
}

static int index_rebuild(ir_graph *g)
{
    if (g->index)
        memset(g->index, 0, sizeof(int) * (size_t)g->index_cap);
    int n = g->n_values;
    g->n_values = 0;
    for (int v = 0; v < n; v++) {
        g->n_values = v + 1;
        if (index_put(g, v))
            return HPK_ENOMEM;
    }
    return HPK_OK;
}

int ir_graph_find(const ir_graph *g, const char *name)
{
    if (!g->index_cap || !name)
        return -1;
    uint64_t h = hash_str(name) & (uint64_t)(g->index_cap - 1);
    while (g->index[h]) {
        int id = g->index[h] - 1;
        if (strcmp(g->values[id].name, name) == 0)
            return id;
        h = (h + 1) & (uint64_t)(g->index_cap - 1);
    }
    return -1;
}

int ir_value_add(ir_graph *g, const char *name, ir_dtype dt, const ir_shape *shape, hpk_err *err)
{
    if (!name || !*name)
        return hpk_err_set(err, HPK_EINPUT, "a value has an empty name"), -1;
    if (ir_graph_find(g, name) >= 0)
        return hpk_err_set(err, HPK_EINPUT, "duplicate value name '%s'", name), -1;
    if (grow(g, (void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(ir_value)))
        return hpk_err_set(err, HPK_ENOMEM, "out of memory adding value '%s'", name), -1;
    ir_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = ir_strdup(g, name);
    if (!v->name)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory adding value '%s'", name), -1;
    v->dtype = dt;
    v->producer = -1;
    if (shape)
        v->shape = *shape;
    else
        v->shape.rank = -1;
    int id = g->n_values++;
    if (index_put(g, id)) {
        g->n_values--;
        return hpk_err_set(err, HPK_ENOMEM, "out of memory adding value '%s'", name), -1;
    }
    return id;
}

int ir_value_rename(ir_graph *g, int v, const char *name, hpk_err *err)
{
    if (ir_graph_find(g, name) >= 0)
        return hpk_err_set(err, HPK_EINPUT, "cannot rename '%s': the name '%s' is taken", g->values[v].name, name);
    const char *nm = ir_strdup(g, name);
    if (!nm)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory renaming a value");
    g->values[v].name = nm;
    if (index_rebuild(g))
        return hpk_err_set(err, HPK_ENOMEM, "out of memory renaming a value");
    return HPK_OK;
}

const char *ir_graph_unique_name(ir_graph *g, const char *base)
{
    char buf[512];
    if (ir_graph_find(g, base) < 0)
        return ir_strdup(g, base);
    for (;;) {
        snprintf(buf, sizeof buf, "%.400s_%llu", base, (unsigned long long)++g->name_counter);
        if (ir_graph_find(g, buf) < 0)
            return ir_strdup(g, buf);
    }
}

ir_tensor *ir_tensor_new(ir_graph *g, ir_dtype dt, const ir_shape *shape, hpk_err *err)
{
    size_t n, bytes, es = ir_dtype_size(dt);
    if (!es)
        return hpk_err_set(err, HPK_EUNSUPPORTED, "unsupported tensor dtype %d", (int)dt), NULL;
    if (!ir_shape_concrete(shape) || ir_shape_numel(shape, &n) || __builtin_mul_overflow(n, es, &bytes))
        return hpk_err_set(err, HPK_EINPUT, "tensor size overflows"), NULL;
    ir_tensor *t = ir_alloc(g, sizeof *t);
    if (!t)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory for a tensor"), NULL;
    memset(t, 0, sizeof *t);
    t->data = ir_alloc(g, bytes);
    if (!t->data) {
        ir_dealloc(g, t, sizeof *t);
        return hpk_err_set(err, HPK_ENOMEM, "out of memory for a tensor of %zu bytes", bytes), NULL;
    }
    memset(t->data, 0, bytes ? bytes : 1);
    t->dtype = dt;
    t->shape = *shape;
    t->nbytes = bytes;
    return t;
}

int ir_init_add(ir_graph *g, const char *name, ir_dtype dt, const ir_shape *shape, hpk_err *err)
{
    ir_tensor *t = ir_tensor_new(g, dt, shape, err);
    if (!t)
        return -1;
    int id = ir_value_add(g, name, dt, shape, err);
    if (id < 0) {
        ir_tensor_free(g, t);
        return -1;
    }
    g->values[id].init = t;
    return id;
}

int ir_node_add(ir_graph *g, ir_op op, const char *name, const int *in, int n_in, const int *out, int n_out,
                hpk_err *err)
{
    if (grow(g, (void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(ir_node)))
        return hpk_err_set(err, HPK_ENOMEM, "out of memory adding a node"), -1;
    ir_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = ir_strdup(g, name ? name : "");
    n->in = ir_arena_alloc(g, sizeof(int) * (size_t)(n_in ? n_in : 1));
    n->out = ir_arena_alloc(g, sizeof(int) * (size_t)(n_out ? n_out : 1));
    if (!n->name || !n->in || !n->out)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory adding a node"), -1;
    if (n_in)
        memcpy(n->in, in, sizeof(int) * (size_t)n_in);
    if (n_out)
        memcpy(n->out, out, sizeof(int) * (size_t)n_out);
    n->n_in = n_in;
    n->n_out = n_out;
    int idx = g->n_nodes++;
    for (int i = 0; i < n_out; i++)
        if (out[i] >= 0 && out[i] < g->n_values)
            g->values[out[i]].producer = idx;
    return idx;
}

static ir_attr *attr_slot(ir_graph *g, int ni, const char *name, hpk_err *err)
{
    ir_node *n = &g->nodes[ni];
    for (int a = 0; a < n->n_attr; a++)
        if (strcmp(n->attr[a].name, name) == 0) {
            if (n->attr[a].t)
                ir_tensor_free(g, n->attr[a].t);
            const char *nm = n->attr[a].name;
            memset(&n->attr[a], 0, sizeof n->attr[a]);
            n->attr[a].name = nm;
            return &n->attr[a];
        }
    ir_attr *na = ir_arena_alloc(g, sizeof(ir_attr) * (size_t)(n->n_attr + 1));
    const char *nm = ir_strdup(g, name);
    if (!na || !nm) {
        hpk_err_set(err, HPK_ENOMEM, "out of memory setting attribute '%s'", name);
        return NULL;
    }
    if (n->n_attr)
        memcpy(na, n->attr, sizeof(ir_attr) * (size_t)n->n_attr);
    n->attr = na; /* the old array stays in the arena until the graph is freed */
    ir_attr *a = &na[n->n_attr++];
    a->name = nm;
    return a;
}

int ir_node_set_int(ir_graph *g, int ni, const char *name, int64_t v, hpk_err *err)
{
    ir_attr *a = attr_slot(g, ni, name, err);
    if (!a)
        return HPK_ENOMEM;
    a->type = IR_ATTR_INT;
    a->i = v;
    return HPK_OK;
}

int ir_node_set_float(ir_graph *g, int ni, const char *name, float v, hpk_err *err)
{
    ir_attr *a = attr_slot(g, ni, name, err);
    if (!a)
        return HPK_ENOMEM;
    a->type = IR_ATTR_FLOAT;
    a->f = v;
    return HPK_OK;
}

int ir_node_set_ints(ir_graph *g, int ni, const char *name, const int64_t *v, int n, hpk_err *err)
{
    ir_attr *a = attr_slot(g, ni, name, err);
    if (!a)
        return HPK_ENOMEM;
    a->type = IR_ATTR_INTS;
    a->ints = ir_arena_alloc(g, sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!a->ints)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory setting attribute '%s'", name);
    if (n)
        memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
    a->n = n;
    return HPK_OK;
}

int ir_node_set_floats(ir_graph *g, int ni, const char *name, const float *v, int n, hpk_err *err)
{
    ir_attr *a = attr_slot(g, ni, name, err);
    if (!a)
        return HPK_ENOMEM;
    a->type = IR_ATTR_FLOATS;
    a->floats = ir_arena_alloc(g, sizeof(float) * (size_t)(n ? n : 1));
    if (!a->floats)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory setting attribute '%s'", name);
    if (n)
        memcpy(a->floats, v, sizeof(float) * (size_t)n);
    a->n = n;
    return HPK_OK;
}

int ir_node_set_string(ir_graph *g, int ni, const char *name, const char *s, hpk_err *err)
{
    ir_attr *a = attr_slot(g, ni, name, err);
    if (!a)
        return HPK_ENOMEM;
    a->type = IR_ATTR_STRING;
    a->s = ir_strdup(g, s);
    a->s_len = strlen(s);
    if (!a->s)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory setting attribute '%s'", name);
    return HPK_OK;
}

static int list_add(ir_graph *g, int **arr, int *n, int *cap, int v, hpk_err *err)
{
    if (grow(g, (void **)arr, cap, *n + 1, sizeof(int)))
        return hpk_err_set(err, HPK_ENOMEM, "out of memory");
    (*arr)[(*n)++] = v;
    return HPK_OK;
}

int ir_graph_add_input(ir_graph *g, int v, hpk_err *err)
{
    g->values[v].flags |= IR_VAL_INPUT;
    return list_add(g, &g->inputs, &g->n_inputs, &g->cap_inputs, v, err);
}

int ir_graph_add_output(ir_graph *g, int v, hpk_err *err)
{
    g->values[v].flags |= IR_VAL_OUTPUT;
    return list_add(g, &g->outputs, &g->n_outputs, &g->cap_outputs, v, err);
}

/* Symbol names are hashed like value names: a linear search made a hostile file with many nodes of symbolic
 * shape (each creating fresh symbols in inference) quadratic. */
int ir_sym_get(ir_graph *g, const char *name)
{
    if (g->sym_index_cap) {
        uint64_t h = hash_str(name) & (uint64_t)(g->sym_index_cap - 1);
        for (; g->sym_index[h]; h = (h + 1) & (uint64_t)(g->sym_index_cap - 1))
            if (strcmp(g->syms[g->sym_index[h] - 1], name) == 0)
                return g->sym_index[h] - 1;
    }
    if ((g->n_syms + 1) * 2 > g->sym_index_cap) {
        int ncap = g->sym_index_cap ? g->sym_index_cap * 2 : 64;
        int *ni = ir_alloc(g, sizeof(int) * (size_t)ncap);
        if (!ni)
            return -1;
        memset(ni, 0, sizeof(int) * (size_t)ncap);
        for (int i = 0; i < g->n_syms; i++) {
            uint64_t h = hash_str(g->syms[i]) & (uint64_t)(ncap - 1);
            while (ni[h])
                h = (h + 1) & (uint64_t)(ncap - 1);
            ni[h] = i + 1;
        }
        ir_dealloc(g, g->sym_index, sizeof(int) * (size_t)g->sym_index_cap);
        g->sym_index = ni;
        g->sym_index_cap = ncap;
    }
    if (grow(g, (void **)&g->syms, &g->cap_syms, g->n_syms + 1, sizeof(char *)))
        return -1;
    const char *s = ir_strdup(g, name);
    if (!s)
        return -1;
    uint64_t h = hash_str(name) & (uint64_t)(g->sym_index_cap - 1);
    while (g->sym_index[h])
        h = (h + 1) & (uint64_t)(g->sym_index_cap - 1);
    g->sym_index[h] = g->n_syms + 1;
    g->syms[g->n_syms] = s;
    return g->n_syms++;
}

int ir_stage_set(ir_graph *g, const char *name, int value, int stride, hpk_err *err)
{
    for (int i = 0; i < g->n_stages; i++)
        if (strcmp(g->stages[i].name, name) == 0) {
            g->stages[i].value = value;
            g->stages[i].stride = stride;
            return HPK_OK;
        }
    if (g->n_stages >= IR_MAX_STAGES)
        return hpk_err_set(err, HPK_EINPUT, "too many stages (max %d)", IR_MAX_STAGES);
    const char *nm = ir_strdup(g, name);
    if (!nm)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory");
    g->stages[g->n_stages].name = nm;
    g->stages[g->n_stages].value = value;
    g->stages[g->n_stages].stride = stride;
    g->n_stages++;
    return HPK_OK;
}

const ir_stage *ir_stage_find(const ir_graph *g, const char *name)
{
    for (int i = 0; i < g->n_stages; i++)
        if (strcmp(g->stages[i].name, name) == 0)
            return &g->stages[i];
    return NULL;
}

/* ---- attributes ------------------------------------------------------------------------------------------ */

const ir_attr *ir_attr_find(const ir_node *n, const char *name)
{
    for (int a = 0; a < n->n_attr; a++)
        if (strcmp(n->attr[a].name, name) == 0)
            return &n->attr[a];
    return NULL;
}

int64_t ir_attr_int(const ir_node *n, const char *name, int64_t def)
{
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_INT ? a->i : def;
}

float ir_attr_float(const ir_node *n, const char *name, float def)
{
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_FLOAT ? a->f : def;
}

const char *ir_attr_str(const ir_node *n, const char *name, const char *def)
{
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->type == IR_ATTR_STRING ? a->s : def;
}

int ir_attr_ints(const ir_node *n, const char *name, const int64_t **v)
{
    const ir_attr *a = ir_attr_find(n, name);
    if (!a || a->type != IR_ATTR_INTS)
        return -1;
    *v = a->ints;
    return a->n;
}

int ir_attr_floats(const ir_node *n, const char *name, const float **v)
{
    const ir_attr *a = ir_attr_find(n, name);
    if (!a || a->type != IR_ATTR_FLOATS)
        return -1;
    *v = a->floats;
    return a->n;
}

/* ---- linking, compaction, cloning ------------------------------------------------------------------------ */

int ir_graph_link(ir_graph *g, hpk_err *err)
{
    for (int v = 0; v < g->n_values; v++)
        g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v < 0)
                continue;
            if (v >= g->n_values)
                return hpk_err_set(err, HPK_EINTERNAL, "node '%s' writes an invalid value id", n->name);
            if (g->values[v].producer >= 0 || g->values[v].init || (g->values[v].flags & IR_VAL_INPUT))
                return hpk_err_set(err, HPK_EINPUT, "value '%s' is produced twice (second time by node '%s')",
                                   g->values[v].name, n->name);
            g->values[v].producer = i;
        }
    }
    return HPK_OK;
}

int ir_graph_compact(ir_graph *g, hpk_err *err)
{
    int nv = g->n_values;
    char *used = ir_alloc(g, (size_t)nv + 1);
    int *remap = ir_alloc(g, sizeof(int) * ((size_t)nv + 1));
    if (!used || !remap) {
        ir_dealloc(g, used, (size_t)nv + 1);
        ir_dealloc(g, remap, sizeof(int) * ((size_t)nv + 1));
        return hpk_err_set(err, HPK_ENOMEM, "out of memory compacting the graph");
    }
    memset(used, 0, (size_t)nv + 1);
    int k = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) {
            attrs_free_tensors(g, &g->nodes[i]);
            continue;
        }
        g->nodes[k++] = g->nodes[i];
    }
    g->n_nodes = k;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                used[n->in[j]] = 1;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0)
                used[n->out[j]] = 1;
    }
    for (int i = 0; i < g->n_inputs; i++)
        used[g->inputs[i]] = 1;
    for (int i = 0; i < g->n_outputs; i++)
        used[g->outputs[i]] = 1;
    for (int i = 0; i < g->n_stages; i++)
        if (g->stages[i].value >= 0)
            used[g->stages[i].value] = 1;
    k = 0;
    for (int v = 0; v < nv; v++) {
        if (!used[v]) {
            ir_tensor_free(g, g->values[v].init);
            remap[v] = -1;
            continue;
        }
        remap[v] = k;
        g->values[k++] = g->values[v];
    }
    g->n_values = k;
    for (int i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0)
                n->in[j] = remap[n->in[j]];
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0)
                n->out[j] = remap[n->out[j]];
    }
    for (int i = 0; i < g->n_inputs; i++)
        g->inputs[i] = remap[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++)
        g->outputs[i] = remap[g->outputs[i]];
    for (int i = 0; i < g->n_stages; i++)
        if (g->stages[i].value >= 0)
            g->stages[i].value = remap[g->stages[i].value];
    ir_dealloc(g, used, (size_t)nv + 1);
    ir_dealloc(g, remap, sizeof(int) * ((size_t)nv + 1));
    if (index_rebuild(g))
        return hpk_err_set(err, HPK_ENOMEM, "out of memory compacting the graph");
    return ir_graph_link(g, err);
}

int ir_graph_toposort(ir_graph *g, hpk_err *err)
{
    int nn = g->n_nodes, nv = g->n_values, rc = HPK_OK;
    char *ready = ir_alloc(g, (size_t)nv + 1);
    char *placed = ir_alloc(g, (size_t)nn + 1);
    ir_node *order = ir_alloc(g, sizeof(ir_node) * ((size_t)nn + 1));
    if (!ready || !placed || !order) {
        rc = hpk_err_set(err, HPK_ENOMEM, "out of memory sorting the graph");
        goto done;
    }
    memset(ready, 0, (size_t)nv + 1);
    memset(placed, 0, (size_t)nn + 1);
    for (int v = 0; v < nv; v++)
        ready[v] = g->values[v].init || (g->values[v].flags & IR_VAL_INPUT);
    /* repeated stable sweeps: O(n * depth of out-of-order chains), tiny for real graphs */
    int k = 0;
    while (k < nn) {
        int before = k;
        for (int i = 0; i < nn; i++) {
            if (placed[i])
                continue;
            const ir_node *n = &g->nodes[i];
            bool ok = true;
            for (int j = 0; j < n->n_in && ok; j++)
                ok = n->in[j] < 0 || ready[n->in[j]];
            if (!ok)
                continue;
            placed[i] = 1;
            order[k++] = *n;
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] >= 0)
                    ready[n->out[j]] = 1;
        }
        if (k == before) {
            for (int i = 0; i < nn; i++)
                if (!placed[i]) {
                    rc = hpk_err_set(err, HPK_EINPUT, "node '%s' (%s) is part of a cycle or reads an undefined value",
                                     g->nodes[i].name, ir_op_table[g->nodes[i].op].onnx_name);
                    break;
                }
            goto done;
        }
    }
    memcpy(g->nodes, order, sizeof(ir_node) * (size_t)nn);
    rc = ir_graph_link(g, err);
done:
    ir_dealloc(g, ready, (size_t)nv + 1);
    ir_dealloc(g, placed, (size_t)nn + 1);
    ir_dealloc(g, order, sizeof(ir_node) * ((size_t)nn + 1));
    return rc;
}

static ir_tensor *tensor_clone(ir_graph *g, const ir_tensor *t, hpk_err *err)
{
    ir_tensor *c = ir_tensor_new(g, t->dtype, &t->shape, err);
    if (c && t->nbytes)
        memcpy(c->data, t->data, t->nbytes);
    return c;
}

int ir_graph_clone(const ir_graph *src, ir_graph **out, hpk_err *err)
{
    ir_graph *g;
    int rc = ir_graph_init(&g, src->alloc, err);
    if (rc)
        return rc;
    rc = HPK_ENOMEM;
    g->name = ir_strdup(g, src->name ? src->name : "");
    g->producer_name = ir_strdup(g, src->producer_name ? src->producer_name : "");
    g->producer_version = ir_strdup(g, src->producer_version ? src->producer_version : "");
    g->doc = ir_strdup(g, src->doc ? src->doc : "");
    g->ir_version = src->ir_version;
    g->opset = src->opset;
    g->model_version = src->model_version;
    g->name_counter = src->name_counter;
    if (!g->name || !g->producer_name || !g->producer_version || !g->doc)
        goto fail;
    for (int i = 0; i < src->n_syms; i++)
        if (ir_sym_get(g, src->syms[i]) != i)
            goto fail;
    for (int v = 0; v < src->n_values; v++) {
        const ir_value *sv = &src->values[v];
        int id = ir_value_add(g, sv->name, sv->dtype, &sv->shape, err);
        if (id < 0) {
            rc = err ? err->code : HPK_ENOMEM;
            goto fail;
        }
        g->values[id].flags = sv->flags;
        if (sv->init && !(g->values[id].init = tensor_clone(g, sv->init, err)))
            goto fail;
    }
    for (int i = 0; i < src->n_nodes; i++) {
        const ir_node *sn = &src->nodes[i];
        int ni = ir_node_add(g, sn->op, sn->name, sn->in, sn->n_in, sn->out, sn->n_out, err);
        if (ni < 0)
            goto fail;
        ir_node *n = &g->nodes[ni];
        n->dead = sn->dead;
        if (sn->n_attr) {
            n->attr = ir_arena_alloc(g, sizeof(ir_attr) * (size_t)sn->n_attr);
            if (!n->attr)
                goto fail;
            for (int a = 0; a < sn->n_attr; a++) {
                const ir_attr *sa = &sn->attr[a];
                ir_attr *da = &n->attr[a];
                *da = *sa;
                da->name = ir_strdup(g, sa->name);
                da->t = NULL;
                da->ints = NULL;
                da->floats = NULL;
                da->strings = NULL;
                da->s = NULL;
                n->n_attr = a + 1;
                if (!da->name)
                    goto fail;
                if (sa->s && !(da->s = ir_strndup(g, sa->s, sa->s_len)))
                    goto fail;
                if (sa->ints) {
                    if (!(da->ints = ir_arena_alloc(g, sizeof(int64_t) * (size_t)(sa->n ? sa->n : 1))))
                        goto fail;
                    memcpy(da->ints, sa->ints, sizeof(int64_t) * (size_t)sa->n);
                }
                if (sa->floats) {
                    if (!(da->floats = ir_arena_alloc(g, sizeof(float) * (size_t)(sa->n ? sa->n : 1))))
                        goto fail;
                    memcpy(da->floats, sa->floats, sizeof(float) * (size_t)sa->n);
                }
                if (sa->strings) {
                    if (!(da->strings = ir_arena_alloc(g, sizeof(char *) * (size_t)(sa->n ? sa->n : 1))))
                        goto fail;
                    for (int s = 0; s < sa->n; s++)
                        if (!(da->strings[s] = ir_strdup(g, sa->strings[s])))
                            goto fail;
                }
                if (sa->t && !(da->t = tensor_clone(g, sa->t, err)))
                    goto fail;
            }
        }
    }
    for (int i = 0; i < src->n_inputs; i++)
        if (ir_graph_add_input(g, src->inputs[i], err))
            goto fail;
    for (int i = 0; i < src->n_outputs; i++)
        if (ir_graph_add_output(g, src->outputs[i], err))
            goto fail;
    for (int i = 0; i < src->n_stages; i++)
        if (ir_stage_set(g, src->stages[i].name, src->stages[i].value, src->stages[i].stride, err))
            goto fail;
    for (int v = 0; v < src->n_values; v++)
        g->values[v].producer = src->values[v].producer;
    *out = g;
    return HPK_OK;
fail:
    ir_graph_free(g);
    if (err && err->code == HPK_OK)
        hpk_err_set(err, rc, "out of memory cloning the graph");
    return err && err->code ? err->code : rc;
}
