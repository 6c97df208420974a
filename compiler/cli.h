/* cli.h — the command-line driver's shared pieces: flag parsing, command table, model loading. */
#ifndef HPK_CLI_H
#define HPK_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ir.h"

enum cli_kind { CLI_STR, CLI_INT, CLI_DOUBLE, CLI_BOOL };

typedef struct cli_flag {
    const char *name; /* "--threads" */
    enum cli_kind kind;
    void *dst;        /* const char **, long *, double *, bool * */
    const char *arg;  /* placeholder shown in help ("N"); NULL for CLI_BOOL */
    const char *help;
} cli_flag;

typedef struct cli_cmd {
    const char *name;
    const char *synopsis; /* one line: the arguments */
    const char *summary;  /* one line: what it does */
    int (*run)(int argc, char **argv, const struct cli_cmd *self);
} cli_cmd;

/* Parses argv[1..] (argv[0] is the command name) into flags and up to max_pos positionals. Handles --help
 * (prints usage, returns -1: the caller exits 0). Returns 0, or 2 after printing a usage error on stderr. */
int cli_parse(int argc, char **argv, const cli_cmd *cmd, const cli_flag *flags, const char **pos, int max_pos,
              int *n_pos);
void cli_usage(FILE *f, const cli_cmd *cmd, const cli_flag *flags);
/* Prints "hpk <cmd>: <msg>" on stderr and returns the exit status for err's code. */
int cli_fail(const cli_cmd *cmd, const hpk_err *err);

/* Loads a model file (ONNX) for a command; messages name the file. */
int cli_load_model(const char *path, ir_graph **out, hpk_err *err);

#define CLI_COMMANDS(X)                                                                                   \
    X(inspect, "MODEL.onnx [--json]", "ops, params, MACs, inputs/outputs and stages of a model")          \
    X(run, "MODEL.onnx --input X.npy --output Y.npy [--backend ref|onednn] [--threads N]",               \
      "run a model on a .npy input")                                                                      \
    X(opt, "IN.onnx -o OUT.onnx [--passes a,b,...] [--check]", "transform a model with graph passes")      \
    X(train, "(--model NAME | --onnx MODEL.onnx) --data SPEC --out RUNDIR [options]",                   \
      "train a model with hpk heads (SGD, cosine schedule, checkpoints)")                                 \
    X(eval, "(MODEL.onnx | RUNDIR) --data SPEC [--json]", "top-1/top-5 accuracy of a model or a run")     \
    X(export, "RUNDIR -o OUT.onnx [--fold-bn]", "the trained model for inference, heads removed")        \
    X(model, "NAME [--width W] [--classes K] [--input-size S] [--in-channels C] [--seed N] -o OUT.onnx", \
      "build MobileNetV2/V3-small/V3-large (torchvision's architecture) as ONNX")                        \
    X(bench, "(MODEL.onnx | --model NAME [--width W]) [--batch B] [--input-size S] [--train] [--heads ...] " \
             "[--backend ...] [--threads N]",                                                            \
      "time a model on a backend (last line: <number> img/s)")

#define CLI_DECLARE(name, syn, sum) int cmd_##name(int argc, char **argv, const cli_cmd *self);
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE


/* JSON output helpers */
void cli_json_str(FILE *f, const char *s);
void cli_json_shape(FILE *f, const ir_graph *g, const ir_shape *s);

/* A backend by --backend name (NULL: the default); prints a usage error and returns NULL if unknown. */
struct be_vtable;
const struct be_vtable *cli_backend(const cli_cmd *cmd, const char *name);
/* Runs g on one input tensor with backend be; *out receives a malloc'd copy of output 0 (free out->data). */
int cli_run_graph(ir_graph *g, const struct be_vtable *be, int threads, const hpk_tensor *x, hpk_tensor *out,
                  hpk_err *err);
#endif
