/* cmd_export.c — `hpk export RUNDIR -o OUT.onnx [--fold-bn]`: the trained model for inference, heads removed. */
#include "cli.h"
#include "onnx.h"
#include "passes.h"
#include "trainer.h"

int cmd_export(int argc, char **argv, const cli_cmd *self)
{
    const char *out = NULL;
    bool fold = false;
    const cli_flag flags[] = {
        {"-o", CLI_STR, &out, "OUT.onnx", "where to write the model"},
        {"--fold-bn", CLI_BOOL, &fold, NULL, "fold BatchNormalization into the convolutions"},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, self, flags, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos != 1 || !out) {
        cli_usage(stderr, self, flags);
        return 2;
    }
    hpk_err err = {0};
    ir_graph *g = NULL;
    if ((rc = train_load_run(pos[0], &g, &err)) || (rc = pass_run_list(g, fold ? "identity-elim,fold-bn,dce" : "identity-elim,dce", &err)) ||
        (rc = onnx_save(g, out, &err))) {
        ir_graph_free(g);
        return cli_fail(self, &err);
    }
    ir_stats st;
    if (ir_graph_stats(g, &st, &err) == HPK_OK)
        printf("exported %s: %llu parameters, %llu MACs (batch 1)\n", out, (unsigned long long)st.params,
               (unsigned long long)st.macs);
    ir_graph_free(g);
    return 0;
}
