/* model_dump.c — test tool: builds a model and writes its graph as JSON plus raw initializer bytes, so Python
 * can rebuild it with onnx.helper and check it against onnx.checker, ONNX Runtime and torchvision without
 * going through hpk's own ONNX exporter.
 * usage: model_dump NAME WIDTH CLASSES INPUT_SIZE IN_CHANNELS SEED OUT   (writes OUT.json and OUT.bin) */
#include <stdio.h>
#include <stdlib.h>

#include "models.h"

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

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: model_dump NAME WIDTH CLASSES INPUT_SIZE IN_CHANNELS SEED OUT\n");
        return 2;
    }
    model_config cfg;
    model_config_init(&cfg, argv[1]);
    cfg.width = atof(argv[2]);
    cfg.classes = atoi(argv[3]);
    cfg.input_size = atoi(argv[4]);
    cfg.in_channels = atoi(argv[5]);
    cfg.seed = strtoull(argv[6], NULL, 10);
    hpk_err err = {0};
    ir_graph *g = NULL;
    if (model_build(&cfg, hpk_alloc_default(), &g, &err)) {
        fprintf(stderr, "model_dump: %s\n", err.msg);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.json", argv[7]);
    FILE *f = fopen(path, "w");
    snprintf(path, sizeof path, "%s.bin", argv[7]);
    FILE *b = fopen(path, "wb");
    if (!f || !b) {
        fprintf(stderr, "model_dump: cannot write %s.*\n", argv[7]);
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
        fprintf(stderr, "model_dump: write error\n");
        return 1;
    }
    return 0;
}
