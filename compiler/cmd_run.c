/* cmd_run.c — `hpk run MODEL.onnx --input X.npy --output Y.npy [--backend ref|onednn] [--threads N]`. */
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "cli.h"

int cmd_run(int argc, char **argv, const cli_cmd *self)
{
    const char *input = NULL, *output = NULL, *backend = NULL;
    long threads = 0;
    const cli_flag flags[] = {
        {"--input", CLI_STR, &input, "X.npy", "the input: a float32 .npy array"},
        {"--output", CLI_STR, &output, "Y.npy", "where to write the first output"},
        {"--backend", CLI_STR, &backend, "NAME", "ref (the oracle) or onednn (the default when built)"},
        {"--threads", CLI_INT, &threads, "N", "threads to use (default: the backend's)"},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, self, flags, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos != 1 || !input || !output || threads < 0 || threads > 1024) {
        cli_usage(stderr, self, flags);
        return 2;
    }
    const be_vtable *be = cli_backend(self, backend);
    if (!be)
        return 2;
    hpk_err err = {0};
    ir_graph *g = NULL;
    hpk_tensor x = {0}, y = {0};
    if ((rc = cli_load_model(pos[0], &g, &err)) || (rc = hpk_npy_load(input, &x, &err)) ||
        (rc = cli_run_graph(g, be, (int)threads, &x, &y, &err)) || (rc = hpk_npy_save(output, &y, &err))) {
        if (err.code && !strstr(err.msg, pos[0]) && !strstr(err.msg, input) && !strstr(err.msg, output)) {
            hpk_err e2 = {0};
            hpk_err_set(&e2, err.code, "%s: %s", pos[0], err.msg);
            err = e2;
        }
        rc = cli_fail(self, &err);
    }
    free(x.data);
    free(y.data);
    ir_graph_free(g);
    return rc;
}
