/* train_int.h — the trainer's internals shared by its files (graphs, loop, evaluation, run directories). */
#ifndef HPK_TRAIN_INT_H
#define HPK_TRAIN_INT_H

#include "trainer.h"

typedef struct train_graphs {
    ir_graph *base, *heads, *train, *eval;
    ad_loss losses[HEADS_MAX + 1];       /* value ids in heads */
    ad_loss train_losses[HEADS_MAX + 1]; /* the same losses' value ids in train (its own ids: found by name) */
    int n_losses;
    char loss_names[HEADS_MAX + 1][64]; /* "fc", "stage5", ... */
    char head_names[256];               /* storage for the parsed head list */
} train_graphs;

/* heads, eval and (with_train) train graphs from base (base is owned by rg afterwards). */
int train_graphs_build(const train_config *c, ir_graph *base, train_graphs *rg, bool with_train, hpk_err *err);
void train_graphs_free(train_graphs *rg);
int train_heads_config(const train_config *c, heads_config *hc, char *names_buf, size_t cap, hpk_err *err);
/* Copies every PARAM/STATE initializer of dst from src by name. */
int train_copy_params(const ir_graph *src, ir_graph *dst, hpk_err *err);

/* The configuration as checkpoint metadata and back ("cfg.<key>" entries). */
struct train_ckpt_writer;
struct train_ckpt;
int train_config_save(const train_config *c, struct train_ckpt_writer *w, hpk_err *err);
/* Fills c from a checkpoint (strings point into the checkpoint, which must outlive c). */
int train_config_load(train_config *c, const struct train_ckpt *ck, hpk_err *err);
/* Compares the parts of two configurations that must agree for --resume; names the first difference. */
int train_config_compatible(const train_config *a, const train_config *b, hpk_err *err);

/* top-k hits of one batch of logits [n, k] against labels */
void train_topk(const float *logits, const int64_t *labels, int n, int k, long *top1, long *top5);

#endif
