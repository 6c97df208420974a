/* fuzz_onnx.c — fuzz target: ONNX import (onnx_load_buffer) → ir_verify → ir_infer_graph → export → re-import.
 *
 * Invariants, for every input:
 *  - a rejection is a status with a one-line message "fuzz.onnx: ...", no graph, and no live allocation;
 *  - an accepted model verifies and infers again (idempotent), clones, has statistics or a clean error, and its
 *    concrete inference at batch 1 keeps every rank symbolic inference found;
 *  - an accepted model exports; the export loads back as the same graph (ops, names, attributes, dtypes, shapes,
 *    initializer bytes, inputs, outputs), and exporting that gives the same bytes (a fixpoint); the clone exports
 *    to the same bytes too;
 *  - loading it again with one allocation failing (which one is drawn from the input) fails with HPK_ENOMEM and
 *    frees everything, or succeeds.
 * Leaks are counted through the allocator hook (hpk_alloc_failing with no failure), so they are caught without
 * LeakSanitizer too. External data is refused (base_dir NULL): the file-system cases live in tests/hostile. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ir.h"
#include "onnx.h"

#define NAME "fuzz.onnx"
#define NAME2 "again.onnx"

static const onnx_limits k_limits = {0, 0, (size_t)64 << 20, (size_t)256 << 20};

/* ---- graph comparison (as tests/unit/test_onnx.c's graphs_same; here any difference aborts) --------------- */
static const char *sym_name(const ir_graph *g, int64_t d)
{
    int64_t s = -d - 1;
    return s < g->n_syms ? g->syms[s] : "<bad symbol>";
}

static bool shape_same(const ir_graph *a, const ir_shape *sa, const ir_graph *b, const ir_shape *sb)
{
    if (sa->rank != sb->rank)
        return false;
    for (int i = 0; i < sa->rank; i++) {
        int64_t x = sa->d[i], y = sb->d[i];
        if ((x >= 0) != (y >= 0))
            return false;
        if (x >= 0) {
            if (x != y)
                return false;
            continue;
        }
        const char *nx = sym_name(a, x), *ny = sym_name(b, y);
        if (!(nx[0] == '?' && ny[0] == '?') && strcmp(nx, ny) != 0)
            return false;
    }
    return true;
}

static bool tensor_same(const ir_tensor *x, const ir_tensor *y)
{
    return x->dtype == y->dtype && ir_shape_eq(&x->shape, &y->shape) && x->nbytes == y->nbytes &&
           (x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
}

static const char *vname(const ir_graph *g, int v) { return v < 0 ? "" : g->values[v].name; }
static bool str_same(const char *x, const char *y) { return strcmp(x ? x : "", y ? y : "") == 0; }

static bool attr_same(const ir_attr *p, const ir_attr *q)
{
    if (strcmp(p->name, q->name) != 0 || p->type != q->type)
        return false;
    switch (p->type) {
    case IR_ATTR_FLOAT: return memcmp(&p->f, &q->f, sizeof p->f) == 0;
    case IR_ATTR_INT: return p->i == q->i;
    case IR_ATTR_STRING: return p->s_len == q->s_len && (!p->s_len || memcmp(p->s, q->s, p->s_len) == 0);
    case IR_ATTR_TENSOR: return tensor_same(p->t, q->t);
    case IR_ATTR_FLOATS:
        return p->n == q->n && (!p->n || memcmp(p->floats, q->floats, sizeof(float) * (size_t)p->n) == 0);
    case IR_ATTR_INTS:
        return p->n == q->n && (!p->n || memcmp(p->ints, q->ints, sizeof(int64_t) * (size_t)p->n) == 0);
    case IR_ATTR_STRINGS:
        if (p->n != q->n)
            return false;
        for (int s = 0; s < p->n; s++)
            if (strcmp(p->strings[s], q->strings[s]) != 0)
                return false;
        return true;
    default: return false;
    }
}

static void check_same(const ir_graph *a, const ir_graph *b)
{
    char s1[256], s2[256];
    FUZZ_CHECK(a->opset == b->opset && a->ir_version == b->ir_version && a->model_version == b->model_version,
               "opset/ir_version/model_version %lld/%lld/%lld vs %lld/%lld/%lld", (long long)a->opset,
               (long long)a->ir_version, (long long)a->model_version, (long long)b->opset, (long long)b->ir_version,
               (long long)b->model_version);
    /* a graph without a producer is exported as producer "hpk" 0.1.0, an unnamed graph as "hpk" */
    bool ours = !a->producer_name || !a->producer_name[0];
    FUZZ_CHECK(str_same(ours ? "hpk" : a->producer_name, b->producer_name) &&
                   str_same(ours ? "0.1.0" : a->producer_version, b->producer_version) &&
                   str_same(a->name && a->name[0] ? a->name : "hpk", b->name) && str_same(a->doc, b->doc),
               "model metadata differs after the round trip");
    FUZZ_CHECK(a->n_nodes == b->n_nodes, "%d nodes vs %d", a->n_nodes, b->n_nodes);
    for (int i = 0; i < a->n_nodes; i++) {
        const ir_node *x = &a->nodes[i], *y = &b->nodes[i];
        FUZZ_CHECK(x->op == y->op && strcmp(x->name, y->name) == 0 && x->n_in == y->n_in && x->n_out == y->n_out &&
                       x->n_attr == y->n_attr,
                   "node %d: '%s' %s vs '%s' %s", i, x->name, ir_op_table[x->op].id, y->name, ir_op_table[y->op].id);
        for (int j = 0; j < x->n_in; j++)
            FUZZ_CHECK(strcmp(vname(a, x->in[j]), vname(b, y->in[j])) == 0, "node '%s' input %d: '%s' vs '%s'",
                       x->name, j, vname(a, x->in[j]), vname(b, y->in[j]));
        for (int j = 0; j < x->n_out; j++)
            FUZZ_CHECK(strcmp(vname(a, x->out[j]), vname(b, y->out[j])) == 0, "node '%s' output %d: '%s' vs '%s'",
                       x->name, j, vname(a, x->out[j]), vname(b, y->out[j]));
        for (int k = 0; k < x->n_attr; k++)
            FUZZ_CHECK(attr_same(&x->attr[k], &y->attr[k]), "node '%s' attribute %d ('%s') differs", x->name, k,
                       x->attr[k].name);
    }
    FUZZ_CHECK(a->n_values == b->n_values, "%d values vs %d", a->n_values, b->n_values);
    for (int v = 0; v < a->n_values; v++) {
        const ir_value *x = &a->values[v];
        int w = ir_graph_find(b, x->name);
        FUZZ_CHECK(w >= 0, "value '%s' is missing after the round trip", x->name);
        const ir_value *y = &b->values[w];
        FUZZ_CHECK(x->dtype == y->dtype && shape_same(a, &x->shape, b, &y->shape), "value '%s': %s %s vs %s %s",
                   x->name, ir_dtype_name(x->dtype), ir_shape_str(a, &x->shape, s1, sizeof s1),
                   ir_dtype_name(y->dtype), ir_shape_str(b, &y->shape, s2, sizeof s2));
        FUZZ_CHECK((x->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)) == (y->flags & (IR_VAL_INPUT | IR_VAL_OUTPUT)),
                   "value '%s': input/output flags differ", x->name);
        FUZZ_CHECK(!x->init == !y->init && (!x->init || tensor_same(x->init, y->init)),
                   "initializer '%s' differs", x->name);
    }
    FUZZ_CHECK(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs, "%d/%d inputs/outputs vs %d/%d",
               a->n_inputs, a->n_outputs, b->n_inputs, b->n_outputs);
    for (int i = 0; i < a->n_inputs; i++)
        FUZZ_CHECK(strcmp(vname(a, a->inputs[i]), vname(b, b->inputs[i])) == 0, "input %d differs", i);
    for (int i = 0; i < a->n_outputs; i++)
        FUZZ_CHECK(strcmp(vname(a, a->outputs[i]), vname(b, b->outputs[i])) == 0, "output %d differs", i);
}

/* ---- checks on an accepted graph ----------------------------------------------------------------------- */

/* Concrete inference with every symbolic input dim set to 1: it may refuse (with a proper message), but what it
 * computes has the ranks symbolic inference found. */
static void check_concrete(ir_graph *g)
{
    size_t nv = (size_t)g->n_values + 1, ni = (size_t)g->n_inputs + 1;
    ir_shape *in = calloc(ni, sizeof *in), *shapes = calloc(nv, sizeof *shapes);
    ir_dtype *dts = calloc(nv, sizeof *dts);
    FUZZ_CHECK(in && shapes && dts, "out of memory");
    bool known = true;
    for (int i = 0; i < g->n_inputs; i++) {
        in[i] = g->values[g->inputs[i]].shape;
        known &= in[i].rank >= 0;
        for (int d = 0; d < in[i].rank; d++)
            if (in[i].d[d] < 0)
                in[i].d[d] = 1;
    }
    if (known) {
        hpk_err err = {0};
        int rc = ir_infer_concrete(g, in, shapes, dts, &err);
        if (rc) {
            fuzz_check_err(rc, &err, NULL);
        } else {
            for (int v = 0; v < g->n_values; v++) {
                const ir_value *val = &g->values[v];
                if (val->producer < 0 || val->shape.rank < 0)
                    continue;
                FUZZ_CHECK(shapes[v].rank == val->shape.rank, "value '%s': rank %d symbolically, %d concretely",
                           val->name, val->shape.rank, shapes[v].rank);
                FUZZ_CHECK(ir_shape_concrete(&shapes[v]), "value '%s': concrete inference left a symbol",
                           val->name);
            }
        }
    }
    free(in);
    free(shapes);
    free(dts);
}

static void check_accepted(ir_graph *g)
{
    hpk_err err = {0};
    int rc = ir_verify(g, &err);
    FUZZ_CHECK(rc == HPK_OK, "a loaded graph does not verify again: %s", err.msg);
    rc = ir_infer_graph(g, &err);
    FUZZ_CHECK(rc == HPK_OK, "a loaded graph does not infer again: %s", err.msg);
    check_concrete(g);
    ir_stats st;
    if ((rc = ir_graph_stats(g, &st, &err)))
        fuzz_check_err(rc, &err, NULL);

    /* export, re-import, compare, export again: the same bytes */
    void *buf = NULL, *buf2 = NULL, *buf3 = NULL;
    size_t n = 0, n2 = 0, n3 = 0;
    rc = onnx_save_buffer(g, &buf, &n, &err);
    FUZZ_CHECK(rc == HPK_OK, "what hpk imports it must export: %s", err.msg);
    hpk_failing_alloc fa = {0};
    ir_graph *h = NULL;
    rc = onnx_load_buffer(buf, n, NULL, NAME2, hpk_alloc_failing(&fa), NULL, &h, &err);
    FUZZ_CHECK(rc == HPK_OK, "what hpk exports it must import: %s", err.msg);
    check_same(g, h);
    rc = onnx_save_buffer(h, &buf2, &n2, &err);
    FUZZ_CHECK(rc == HPK_OK, "the re-imported graph does not export: %s", err.msg);
    FUZZ_CHECK(n == n2 && memcmp(buf, buf2, n) == 0, "export is not a fixpoint (%zu vs %zu bytes)", n, n2);
    ir_graph_free(h);
    FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by the re-import", fa.live);

    ir_graph *c = NULL;
    rc = ir_graph_clone(g, &c, &err);
    FUZZ_CHECK(rc == HPK_OK, "clone failed: %s", err.msg);
    rc = onnx_save_buffer(c, &buf3, &n3, &err);
    FUZZ_CHECK(rc == HPK_OK && n3 == n && memcmp(buf3, buf, n) == 0, "the clone exports differently: %s", err.msg);
    ir_graph_free(c);
    free(buf);
    free(buf2);
    free(buf3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hpk_failing_alloc fa = {0};
    ir_graph *g = NULL;
    hpk_err err = {0};
    int rc = onnx_load_buffer(data, size, NULL, NAME, hpk_alloc_failing(&fa), &k_limits, &g, &err);
    if (rc) {
        FUZZ_CHECK(g == NULL, "a failed load returned a graph");
        fuzz_check_err(rc, &err, NAME);
        FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by a rejected load: %s", fa.live, err.msg);
        return 0;
    }
    FUZZ_CHECK(g != NULL, "a successful load returned no graph");
    FUZZ_NOTE("accepted: opset %lld, %d nodes, %d values", (long long)g->opset, g->n_nodes, g->n_values);
    check_accepted(g);
    ir_graph_free(g);
    FUZZ_CHECK(fa.live == 0, "%ld blocks leaked by an accepted load", fa.live);

    /* the same load with allocation number k failing */
    hpk_failing_alloc fb = {0};
    fb.fail_at = 1 + (long)(fuzz_hash(data, size) % (uint64_t)fa.count);
    hpk_err e2 = {0};
    rc = onnx_load_buffer(data, size, NULL, NAME, hpk_alloc_failing(&fb), &k_limits, &g, &e2);
    if (rc) {
        FUZZ_CHECK(g == NULL, "a failed load returned a graph");
        fuzz_check_err(rc, &e2, NAME);
        FUZZ_CHECK(rc == HPK_ENOMEM, "allocation %ld of %ld failed but the status is %d: %s", fb.fail_at, fa.count,
                   rc, e2.msg);
    } else {
        ir_graph_free(g);
    }
    FUZZ_CHECK(fb.live == 0, "%ld blocks leaked when allocation %ld failed", fb.live, fb.fail_at);
    return 0;
}
