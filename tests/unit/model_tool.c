/* model_tool.c — test tool for tests/py/models_torch.py: builds, exports, runs and stages models in-process.
 *   model_tool build NAME WIDTH CLASSES INPUT_SIZE IN_CHANNELS SEED OUT
 *       writes OUT.hpk.onnx (hpk's exporter, like `hpk model`) and OUT.json + OUT.bin: the graph as JSON and
 *       its raw initializer bytes, so Python can also rebuild it with onnx.helper, without hpk's exporter
 *   model_tool run MODEL.onnx X.npy Y.npy      imports MODEL and runs it on the ref backend (like `hpk run`)
 *   model_tool stages MODEL.onnx               imports MODEL and prints its stage table as JSON (like `hpk
 *                                              inspect`: the recorded stages, else model_find_stages)
 * It exercises what the hpk commands do while the hpk executable itself is not built. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "models.h"
#include "onnx.h"

static void shape_json(FILE *f, const ir_graph *g, const ir_shape *s)
{
    fputc('[', f);
    for (int d = 0; d < s->rank; d++) {
        if (s->d[d] >= 0)
            fprintf(f, "%s%lld", d ? ", " : "", (long long)s->d[d]);
        else
            fprintf(f, "%s\"%s\"", d ? ", " : "", g->syms[-s->d[d] - 1]);
    }
    fputc(']', f);
}

static void values_json(FILE *f, const ir_graph *g, const int *ids, int n)
{
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s{\"name\": \"%s\", \"shape\": ", i ? ", " : "", g->values[ids[i]].name);
        shape_json(f, g, &g->values[ids[i]].shape);
        fputc('}', f);
    }
}

static int fail(const hpk_err *err)
{
    fprintf(stderr, "model_tool: %s\n", err->msg);
    return 1;
}

static int cmd_run(const char *model, const char *xin, const char *yout)
{
    hpk_err err = {0};
    ir_graph *g = NULL;
    hpk_tensor x = {0};
    be_plan *p = NULL;
    const be_vtable *be = &be_ref;
    if (onnx_load(model, (hpk_alloc){0}, NULL, &g, &err) || hpk_npy_load(xin, &x, &err)) {
        ir_graph_free(g);
        free(x.data);
        return fail(&err);
    }
    ir_shape s = ir_shape_make(x.rank, x.dims);
    be_options opt = {.threads = 1};
    int rc = be->prepare(g, &opt, &s, &p, &err);
    if (!rc) {
        hpk_tensor *in = be->io(p, g->inputs[0]);
        if (in->nbytes != x.nbytes)
            rc = hpk_err_set(&err, HPK_EINPUT, "input size mismatch");
        else
            memcpy(in->data, x.data, x.nbytes);
    }
    if (!rc)
        rc = be->run(p, &err);
    if (!rc)
        rc = hpk_npy_save(yout, be->io(p, g->outputs[0]), &err);
    if (p)
        be->free(p);
    ir_graph_free(g);
    free(x.data);
    return rc ? fail(&err) : 0;
}

static int cmd_stages(const char *model)
{
    hpk_err err = {0};
    ir_graph *g = NULL;
    if (onnx_load(model, (hpk_alloc){0}, NULL, &g, &err) || (g->n_stages == 0 && model_find_stages(g, &err))) {
        ir_graph_free(g);
        return fail(&err);
    }
    printf("[");
    for (int i = 0; i < g->n_stages; i++)
        printf("%s[\"%s\", \"%s\", %d]", i ? ", " : "", g->stages[i].name, g->values[g->stages[i].value].name,
               g->stages[i].stride);
    printf("]\n");
    ir_graph_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], argv[3], argv[4]);
    if (argc == 3 && strcmp(argv[1], "stages") == 0)
        return cmd_stages(argv[2]);
    if (argc != 9 || strcmp(argv[1], "build") != 0) {
        fprintf(stderr, "usage: model_tool build NAME WIDTH CLASSES INPUT_SIZE IN_CHANNELS SEED OUT\n"
                        "       model_tool run MODEL.onnx X.npy Y.npy\n"
                        "       model_tool stages MODEL.onnx\n");
        return 2;
    }
    argv++;
    model_config cfg;
    model_config_init(&cfg, argv[1]);
    cfg.width = atof(argv[2]);
    cfg.classes = atoi(argv[3]);
    cfg.input_size = atoi(argv[4]);
    cfg.in_channels = atoi(argv[5]);
    cfg.seed = strtoull(argv[6], NULL, 10);
    hpk_err err = {0};
    ir_graph *g = NULL;
    if (model_build(&cfg, hpk_alloc_default(), &g, &err))
        return fail(&err);
    char path[4096];
    snprintf(path, sizeof path, "%s.hpk.onnx", argv[7]);
    if (onnx_save(g, path, &err)) {
        ir_graph_free(g);
        return fail(&err);
    }
    snprintf(path, sizeof path, "%s.json", argv[7]);
    FILE *f = fopen(path, "w");
    snprintf(path, sizeof path, "%s.bin", argv[7]);
    FILE *b = fopen(path, "wb");
    if (!f || !b) {
        fprintf(stderr, "model_tool: cannot write %s.*\n", argv[7]);
        return 1;
    }
    fprintf(f, "{\"opset\": %lld, \"inputs\": [", (long long)g->opset);
    values_json(f, g, g->inputs, g->n_inputs);
    fprintf(f, "], \"outputs\": [");
    values_json(f, g, g->outputs, g->n_outputs);
    fprintf(f, "], \"initializers\": [");
    size_t off = 0;
    for (int v = 0, first = 1; v < g->n_values; v++) {
        const ir_value *val = &g->values[v];
        if (!val->init)
            continue;
        fprintf(f, "%s{\"name\": \"%s\", \"dtype\": %d, \"flags\": %u, \"offset\": %zu, \"nbytes\": %zu, \"shape\": ",
                first ? "" : ", ", val->name, (int)val->init->dtype, val->flags, off, val->init->nbytes);
        shape_json(f, g, &val->init->shape);
        fputc('}', f);
        fwrite(val->init->data, 1, val->init->nbytes, b);
        off += val->init->nbytes;
        first = 0;
    }
    fprintf(f, "], \"nodes\": [");
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        fprintf(f, "%s\n{\"op\": \"%s\", \"name\": \"%s\", \"inputs\": [", i ? "," : "", ir_op_table[n->op].onnx_name,
                n->name);
        for (int j = 0; j < n->n_in; j++)
            fprintf(f, "%s\"%s\"", j ? ", " : "", n->in[j] >= 0 ? g->values[n->in[j]].name : "");
        fprintf(f, "], \"outputs\": [");
        for (int j = 0; j < n->n_out; j++)
            fprintf(f, "%s\"%s\"", j ? ", " : "", n->out[j] >= 0 ? g->values[n->out[j]].name : "");
        fprintf(f, "], \"attrs\": {");
        for (int a = 0; a < n->n_attr; a++) {
            const ir_attr *at = &n->attr[a];
            fprintf(f, "%s\"%s\": ", a ? ", " : "", at->name);
            switch (at->type) {
            case IR_ATTR_INT: fprintf(f, "%lld", (long long)at->i); break;
            case IR_ATTR_FLOAT: fprintf(f, "{\"f\": %.9g}", (double)at->f); break;
            case IR_ATTR_INTS:
                fputc('[', f);
                for (int k = 0; k < at->n; k++)
                    fprintf(f, "%s%lld", k ? ", " : "", (long long)at->ints[k]);
                fputc(']', f);
                break;
            default: fprintf(f, "null"); break;
            }
        }
        fprintf(f, "}}");
    }
    fprintf(f, "],\n\"stages\": [");
    for (int i = 0; i < g->n_stages; i++)
        fprintf(f, "%s{\"name\": \"%s\", \"tensor\": \"%s\", \"stride\": %d}", i ? ", " : "", g->stages[i].name,
                g->values[g->stages[i].value].name, g->stages[i].stride);
    fprintf(f, "]}\n");
    int bad = ferror(f) | ferror(b);
    bad |= fclose(f) | fclose(b);
    ir_graph_free(g);
    if (bad) {
        fprintf(stderr, "model_tool: write error\n");
        return 1;
    }
    return 0;
}
