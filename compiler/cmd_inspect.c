/* cmd_inspect.c — `hpk inspect MODEL.onnx [--json]`: ops, parameters, MACs, inputs/outputs and stages. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "heads.h"
#include "models.h"

static void print_count(FILE *f, uint64_t v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    for (int i = 0; i < n; i++) {
        fputc(buf[i], f);
        if ((n - i - 1) % 3 == 0 && i != n - 1)
            fputc(',', f);
    }
}

static void print_values(FILE *f, const ir_graph *g, const int *ids, int n, bool json)
{
    char sh[256];
    for (int i = 0; i < n; i++) {
        const ir_value *v = &g->values[ids[i]];
        if (json) {
            fprintf(f, "%s{\"name\": ", i ? ", " : "");
            cli_json_str(f, v->name);
            fprintf(f, ", \"dtype\": \"%s\", \"shape\": ", ir_dtype_name(v->dtype));
            cli_json_shape(f, g, &v->shape);
            fputc('}', f);
        } else {
            fprintf(f, "  %-24s %-8s %s\n", v->name, ir_dtype_name(v->dtype), ir_shape_str(g, &v->shape, sh, sizeof sh));
        }
    }
}

int cmd_inspect(int argc, char **argv, const cli_cmd *self)
{
    bool json = false;
    const cli_flag flags[] = {
        {"--json", CLI_BOOL, &json, NULL, "machine-readable output (keys: params, macs, ops, stages, ...)"},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, self, flags, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos != 1) {
        cli_usage(stderr, self, flags);
        return 2;
    }
    hpk_err err = {0};
    ir_graph *g = NULL;
    ir_stats st;
    if ((rc = cli_load_model(pos[0], &g, &err)) || (g->n_stages == 0 && (rc = model_find_stages(g, &err))) ||
        (rc = ir_graph_stats(g, &st, &err))) {
        ir_graph_free(g);
        return cli_fail(self, &err);
    }
    FILE *f = stdout;
    char sh[256];
    if (json) {
        fprintf(f, "{\"file\": ");
        cli_json_str(f, pos[0]);
        fprintf(f, ", \"opset\": %lld, \"ir_version\": %lld, \"producer\": ", (long long)g->opset,
                (long long)g->ir_version);
        cli_json_str(f, g->producer_name);
        fprintf(f, ", \"params\": %llu, \"macs\": %llu, \"nodes\": %d, \"ops\": {", (unsigned long long)st.params,
                (unsigned long long)st.macs, g->n_nodes);
        for (int op = 0, first = 1; op < IR_OP_COUNT; op++)
            if (st.op_count[op]) {
                fprintf(f, "%s\"%s\": %d", first ? "" : ", ", ir_op_table[op].onnx_name, st.op_count[op]);
                first = 0;
            }
        fprintf(f, "}, \"inputs\": [");
        print_values(f, g, g->inputs, g->n_inputs, true);
        fprintf(f, "], \"outputs\": [");
        print_values(f, g, g->outputs, g->n_outputs, true);
        fprintf(f, "], \"stages\": [");
        for (int i = 0; i < g->n_stages; i++) {
            const ir_stage *s = &g->stages[i];
            fprintf(f, "%s{\"name\": ", i ? ", " : "");
            cli_json_str(f, s->name);
            fprintf(f, ", \"tensor\": ");
            cli_json_str(f, g->values[s->value].name);
            fprintf(f, ", \"shape\": ");
            cli_json_shape(f, g, &g->values[s->value].shape);
            fprintf(f, ", \"stride\": %d}", s->stride);
        }
        char kernel[256];
        heads_describe_classifier(g, kernel, sizeof kernel);
        fprintf(f, "], \"classifier\": ");
        cli_json_str(f, kernel);
        fprintf(f, "}\n");
    } else {
        fprintf(f, "model     %s\nopset     %lld (ir_version %lld, producer %s %s)\n", pos[0], (long long)g->opset,
                (long long)g->ir_version, g->producer_name ? g->producer_name : "",
                g->producer_version ? g->producer_version : "");
        fprintf(f, "params    ");
        print_count(f, st.params);
        fprintf(f, "\nMACs      ");
        print_count(f, st.macs);
        char kernel[256];
        heads_describe_classifier(g, kernel, sizeof kernel);
        fprintf(f, " (batch 1)\nnodes     %d\nclassifier %s\ninputs\n", g->n_nodes, kernel);
        print_values(f, g, g->inputs, g->n_inputs, false);
        fprintf(f, "outputs\n");
        print_values(f, g, g->outputs, g->n_outputs, false);
        fprintf(f, "ops\n");
        for (int op = 0; op < IR_OP_COUNT; op++)
            if (st.op_count[op])
                fprintf(f, "  %-24s %d\n", ir_op_table[op].onnx_name, st.op_count[op]);
        fprintf(f, "stages\n");
        if (g->n_stages == 0)
            fprintf(f, "  (none found)\n");
        else
            fprintf(f, "  %-8s %-40s %-20s %s\n", "name", "tensor", "shape", "stride");
        for (int i = 0; i < g->n_stages; i++) {
            const ir_stage *s = &g->stages[i];
            fprintf(f, "  %-8s %-40s %-20s %d\n", s->name, g->values[s->value].name,
                    ir_shape_str(g, &g->values[s->value].shape, sh, sizeof sh), s->stride);
        }
    }
    ir_graph_free(g);
    return 0;
}
