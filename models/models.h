/* models.h — the built-in model families (MobileNetV2, MobileNetV3-small/large) and stage discovery. */
#ifndef HPK_MODELS_H
#define HPK_MODELS_H

#include <stdint.h>

#include "ir.h"

/* What to build. model_config_init fills torchvision's defaults (width 1, 1000 classes, 3x224x224, dropout
 * 0.2, seed 0); change what you need and pass it to model_build. */
typedef struct model_config {
    const char *name;   /* "mobilenetv2" | "mobilenetv3-small" | "mobilenetv3-large" */
    double width;       /* width multiplier, (0, MODEL_MAX_WIDTH] */
    int classes;        /* [1, MODEL_MAX_CLASSES] */
    int input_size;     /* square input side, [MODEL_MIN_INPUT, MODEL_MAX_INPUT] */
    int in_channels;    /* [1, MODEL_MAX_IN_CHANNELS] */
    uint64_t seed;      /* initializer seed: the same seed gives bit-identical weights */
    float dropout;      /* dropout ratio before the classifier, [0, 1) */
} model_config;

#define MODEL_MAX_WIDTH 4.0
#define MODEL_MAX_CLASSES 100000
/* The networks downsample five times (stride 32). 17 px is the smallest side at which every stride still has
 * its own resolution (ceil(S/16) >= 2, ceil(S/32) = 1): below it stage4 and stage5 would both be 1x1, and
 * the stage table, which is defined by resolution changes, would be ambiguous. Fashion-MNIST's 28 px works. */
#define MODEL_MIN_INPUT 17
#define MODEL_MAX_INPUT 4096
#define MODEL_MAX_IN_CHANNELS 1024

void model_config_init(model_config *cfg, const char *name);

/* Builds the model described by cfg into a fresh graph (*out, owned by the caller: ir_graph_free). The graph:
 * input "input" float32 [N, C, S, S] (N symbolic), output "logits" [N, classes], ONNX opset 13, initializers
 * named after torchvision's state_dict keys, trainable ones flagged IR_VAL_PARAM and BN running statistics
 * IR_VAL_STATE, stages stage1..stage5 (strides 2..32) and fc recorded, shapes inferred and verified.
 * Bad names or values: HPK_EINPUT with a message naming the field; no graph is returned on failure. */
int model_build(const model_config *cfg, hpk_alloc alloc, ir_graph **out, hpk_err *err);

/* The family names model_build accepts: copies up to max pointers into names (names may be NULL when max is
 * 0) and returns how many there are. */
int model_names(const char **names, int max);

/* Stage discovery for any graph (an imported one, say), by the rule the builders follow: along the main path
 * (the tensors every input-to-output path goes through), stage k ends at the last tensor of stride 2^k, not
 * counting a trailing pointwise Conv (+BN) + activation unit that belongs to the next block (an expansion
 * conv) or to the classifier head (the final 1x1 conv); fc is the pooled, flattened feature vector. Replaces
 * the graph's stage table. A graph without a fixed-size 4-D float input gets no stages and an error. */
int model_find_stages(ir_graph *g, hpk_err *err);

#endif
