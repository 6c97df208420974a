/* heads.h — pooled prototype heads (the paper's hierarchical polynomial softmax): insertion and removal.
 *
 * A head on a stage tensor F (N×C×H×W) pools it (GAP or GMP) to f (N×C), optionally L2-normalizes f and the
 * prototypes W (K×C, trainable, no bias), and scores the K classes:
 *   poly    z = s·(f·wₖ + c)^d        (d = 2, c = 1: the paper's best)
 *   linear  z = s·(f·wₖ)              (the paper's "CE" heads)
 *   rbf     z = s·exp(−‖f − wₖ‖²/γ)   (RBF-Softmax)
 * and adds the loss λ·CE(softmax(z), y). "fc" names the network's own classifier: with kind poly or rbf the
 * final Gemm becomes that kernel over its input (its weight becomes the prototypes, its bias is dropped); with
 * linear it stays the plain classifier (with its bias): the paper's cross-entropy baseline. The main loss CE(logits, y) is always present ("loss/fc").
 * Everything a head adds is flagged IR_VAL_HEAD, so pass_remove_heads can strip it and the export keeps only
 * the backbone (plus the classifier kernel when fc is poly/rbf).
 */
#ifndef HPK_HEADS_H
#define HPK_HEADS_H

#include "autodiff.h"

typedef enum head_kind { HEAD_POLY, HEAD_LINEAR, HEAD_RBF } head_kind;

typedef struct head_params {
    head_kind kind;
    int degree;     /* d (poly) */
    float coef;     /* c (poly) */
    float scale;    /* s */
    float gamma;    /* γ (rbf) */
    bool max_pool;  /* GMP instead of GAP */
    bool normalize; /* L2-normalize f and W */
} head_params;

#define HEADS_MAX 8
/* The default scale s for normalized features (see the README's head-defaults experiment for the evidence). */
#define HEAD_DEFAULT_SCALE 2.0f

typedef struct heads_config {
    const char *names[HEADS_MAX]; /* stage names or tensor names; "fc" = the classifier */
    float weights[HEADS_MAX];     /* λ per head */
    int n;
    head_params p;
    uint64_t seed; /* prototype initialization */
} heads_config;

/* Parses "fc,stage5,stage4" and "1" or "1,0.5,0.5" into cfg (names point into `names`). */
int heads_parse(heads_config *cfg, char *names, const char *weights, hpk_err *err);
const char *head_kind_name(head_kind k);
int head_kind_parse(const char *s, head_kind *out);

/* Inserts the heads and the losses; adds the int64 input "labels" [N]. losses receives (value, λ) pairs for
 * pass_autodiff, the main loss first; *n_losses their count (at most HEADS_MAX + 1). */
int pass_insert_heads(ir_graph *g, const heads_config *cfg, ad_loss *losses, int *n_losses, hpk_err *err);
/* Only converts the classifier ("fc" kind), for graphs built for inference/evaluation. */
int pass_classifier_kind(ir_graph *g, const head_params *p, hpk_err *err);
/* Describes the classifier kernel producing output 0 ("linear", or e.g. "poly s·(f·w + c)^d, d=2 c=1 s=4,
 * L2-normalized f and w") by recognizing the structure pass_classifier_kind builds. */
void heads_describe_classifier(const ir_graph *g, char *buf, size_t n);
/* Strips everything flagged IR_VAL_HEAD (stage heads, losses, the labels input) and dead code. */
int pass_remove_heads(ir_graph *g, hpk_err *err);

#endif
