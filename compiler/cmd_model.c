/* cmd_model.c — `hpk model NAME [--width W] [--classes K] [--input-size S] [--in-channels C] [--seed N] -o OUT`. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "models.h"
#include "onnx.h"

/* A long flag value into an int field; out-of-range values become a one-line error (exit 1). */
static int to_int(const char *flag, long v, int *dst, hpk_err *err)
{
    if (v < INT_MIN || v > INT_MAX)
        return hpk_err_set(err, HPK_EINPUT, "%s %ld is out of range", flag, v);
    *dst = (int)v;
    return HPK_OK;
}

int cmd_model(int argc, char **argv, const cli_cmd *self)
{
    model_config cfg;
    model_config_init(&cfg, NULL);
    double width = cfg.width, dropout = cfg.dropout;
    long classes = cfg.classes, size = cfg.input_size, in_ch = cfg.in_channels, seed = 0;
    const char *out = NULL;
    const cli_flag flags[] = {
        {"--width", CLI_DOUBLE, &width, "W", "width multiplier (default 1.0; the paper uses 0.5, 0.75, 1.0)"},
        {"--classes", CLI_INT, &classes, "K", "number of classes (default 1000)"},
        {"--input-size", CLI_INT, &size, "S", "input height and width (default 224; at least 17)"},
        {"--in-channels", CLI_INT, &in_ch, "C", "input channels (default 3; Fashion-MNIST: 1)"},
        {"--seed", CLI_INT, &seed, "N", "initializer seed (default 0): the same seed gives the same weights"},
        {"--dropout", CLI_DOUBLE, &dropout, "P", "dropout ratio before the classifier (default 0.2)"},
        {"-o", CLI_STR, &out, "OUT.onnx", "the ONNX file to write (required)"},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, self, flags, pos, 1, &npos);
    if (rc < 0 || (rc == 0 && (npos != 1 || !out))) {
        FILE *f = rc < 0 ? stdout : stderr;
        const char *names[8];
        int n = model_names(names, 8);
        if (rc == 0)
            cli_usage(f, self, flags);
        fprintf(f, "\nNAME:");
        for (int i = 0; i < n && i < 8; i++)
            fprintf(f, " %s%s", i ? "| " : "", names[i]);
        fprintf(f, "\n");
        return rc < 0 ? 0 : 2;
    }
    if (rc)
        return rc;
    hpk_err err = {0};
    ir_graph *g = NULL;
    ir_stats st;
    cfg.name = pos[0];
    cfg.width = width;
    cfg.dropout = (float)dropout;
    if (seed < 0)
        hpk_err_set(&err, HPK_EINPUT, "--seed %ld must not be negative", seed);
    cfg.seed = (uint64_t)seed;
    if (err.code || to_int("--classes", classes, &cfg.classes, &err) ||
        to_int("--input-size", size, &cfg.input_size, &err) ||
        to_int("--in-channels", in_ch, &cfg.in_channels, &err) ||
        model_build(&cfg, hpk_alloc_default(), &g, &err) || ir_graph_stats(g, &st, &err) ||
        onnx_save(g, out, &err)) {
        ir_graph_free(g);
        return cli_fail(self, &err);
    }
    printf("%s: %s width %g, %d classes, input %dx%dx%d, %llu params, %llu MACs\n", out, cfg.name, cfg.width,
           cfg.classes, cfg.in_channels, cfg.input_size, cfg.input_size, (unsigned long long)st.params,
           (unsigned long long)st.macs);
    ir_graph_free(g);
    return 0;
}
