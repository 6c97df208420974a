/* trainer.h — hpk's trainer: the run configuration, the graphs of a run, training, evaluation and export.
 *
 * The graphs of a run (all built from the same base model, so value names agree across them):
 *   base   the inference model: built by models/ or imported from ONNX (saved as RUNDIR/model.onnx)
 *   heads  base + pass_insert_heads: the classifier kernel, stage heads, losses, the labels input
 *   train  heads + pass_training_mode + pass_autodiff: what a training step runs; owns the live parameters
 *   eval   heads + pass_remove_heads: the clean inference model (what hpk export writes)
 * A checkpoint holds every parameter and state tensor of `train` by name, the optimizer's momentum buffers,
 * the position (step, epoch, batch) and the configuration needed to rebuild the graphs.
 */
#ifndef HPK_TRAINER_H
#define HPK_TRAINER_H

#include <stdbool.h>

#include "be.h"
#include "heads.h"

typedef struct train_config {
    /* the model: a built-in (model != NULL) or an ONNX file (onnx != NULL) */
    const char *model;
    double width;
    int classes;     /* 0: the dataset's */
    int input_size;  /* 0: the dataset's recipe */
    int in_channels; /* 0: the dataset's */
    const char *onnx;
    /* data */
    const char *data, *val;
    bool augment, shuffle;
    /* heads */
    char heads[256];        /* "fc,stage5,stage4" or "" */
    char head_weights[128]; /* "1" or per head */
    head_params hp;
    /* optimization */
    long epochs, steps; /* steps > 0 overrides epochs */
    int batch;
    double lr, momentum, wd;
    bool nesterov;
    char schedule[16]; /* cosine | const */
    long warmup;
    uint64_t seed;
    /* execution */
    int threads;
    char backend[16];
    size_t mem_budget;
    long ckpt_every; /* steps between checkpoints (0: at epoch ends only; -1: the stored run's, else 0) */
    long log_every;  /* steps between metric rows/log lines (-1: the stored run's, else 50) */
    const char *out; /* RUNDIR */
    bool resume;
    bool quiet;
} train_config;

/* Defaults of the command-line contract (the paper's recipe). */
void train_config_default(train_config *c);

/* Trains per c (creating c->out). Returns HPK_OK also when interrupted by SIGINT (a checkpoint was saved). */
int train_run(train_config *c, hpk_err *err);

typedef struct eval_result {
    double top1, top5; /* percent */
    double loss;       /* mean cross-entropy of the logits */
    long samples;
    double seconds;
} eval_result;

/* Evaluates an inference graph (one float input, logits output) on a dataset spec with the evaluation
 * preprocessing matching the graph's input geometry. */
int train_evaluate(ir_graph *g, const char *spec, const be_vtable *be, int threads, int batch, size_t mem_budget,
                   eval_result *r, hpk_err *err);

/* The training graph of c over base (base is consumed, also on failure): heads and losses, training-mode BN and
 * Dropout, the backward graph ("grad/<param>" outputs). For benchmarks and tools. */
int train_build_training_graph(const train_config *c, ir_graph *base, ir_graph **out, hpk_err *err);
/* The base model of c: built (with the given dataset-derived defaults for unset classes/size/channels) or loaded. */
int train_base_model(const train_config *c, int data_classes, int data_size, int data_channels, ir_graph **out,
                     hpk_err *err);

/* Rebuilds a run's inference graph (heads removed) with the trained parameters from RUNDIR's checkpoint. */
int train_load_run(const char *rundir, ir_graph **out, hpk_err *err);

#endif
