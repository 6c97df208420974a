/* cmd_eval.c — `hpk eval (MODEL.onnx | RUNDIR) --data SPEC [--json]`: top-1/top-5 of a model or a trained run. */
#include <string.h>
#include <sys/stat.h>

#include "be.h"
#include "cli.h"
#include "trainer.h"

int cmd_eval(int argc, char **argv, const cli_cmd *self)
{
    const char *data = NULL, *backend = NULL;
    long threads = 0, batch = 100;
    bool json = false;
    const cli_flag flags[] = {
        {"--data", CLI_STR, &data, "SPEC", "evaluation data (e.g. fashion-mnist:test)"},
        {"--json", CLI_BOOL, &json, NULL, "machine-readable output"},
        {"--batch", CLI_INT, &batch, "B", "batch size (default 100)"},
        {"--backend", CLI_STR, &backend, "NAME", "onednn (default) | ref"},
        {"--threads", CLI_INT, &threads, "N", "compute threads"},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, self, flags, pos, 1, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (npos != 1 || !data || batch < 1 || batch > 65536 || threads < 0) {
        cli_usage(stderr, self, flags);
        return 2;
    }
    const be_vtable *be = cli_backend(self, backend);
    if (!be)
        return 2;
    hpk_err err = {0};
    ir_graph *g = NULL;
    struct stat st;
    bool is_run = stat(pos[0], &st) == 0 && S_ISDIR(st.st_mode);
    eval_result r;
    if ((rc = is_run ? train_load_run(pos[0], &g, &err) : cli_load_model(pos[0], &g, &err)) ||
        (rc = train_evaluate(g, data, be, (int)threads, (int)batch, 0, &r, &err))) {
        ir_graph_free(g);
        return cli_fail(self, &err);
    }
    if (json) {
        printf("{\"model\": ");
        cli_json_str(stdout, pos[0]);
        printf(", \"data\": ");
        cli_json_str(stdout, data);
        printf(", \"samples\": %ld, \"top1\": %.4f, \"top5\": %.4f, \"loss\": %.6f, \"seconds\": %.3f}\n", r.samples,
               r.top1, r.top5, r.loss, r.seconds);
    } else {
        printf("%s on %s: %ld samples, loss %.4f, %.1f img/s\n", pos[0], data, r.samples, r.loss,
               r.samples / (r.seconds > 0 ? r.seconds : 1));
    }
    printf("top-1 %.2f top-5 %.2f\n", r.top1, r.top5);
    ir_graph_free(g);
    return 0;
}
