/* model_int.h — internals shared by the model builders: the build context and the layer helpers. */
#ifndef HPK_MODEL_INT_H
#define HPK_MODEL_INT_H

#include <stdbool.h>

#include "models.h"

typedef enum mb_act { MB_ACT_NONE, MB_ACT_RELU, MB_ACT_RELU6, MB_ACT_HARDSWISH } mb_act;

/* The build context. Every helper returns the id of the value it produced, or -1 with c->err set; x and ch
 * are the main-path tensor and its channel count, stride its downsampling factor so far. */
typedef struct mb_ctx {
    ir_graph *g;
    hpk_err *err;
    uint64_t seed;
    float bn_eps, bn_momentum; /* momentum in ONNX's convention: 1 - torch's momentum */
    float dropout;
    int clip_lo, clip_hi, drop_ratio; /* shared scalar initializers, -1 until first used */
    int x;
    int64_t ch;
    int stride;
} mb_ctx;

/* One inverted-residual block (MobileNetV2's InvertedResidual, MobileNetV3's InvertedResidual): an optional
 * 1x1 expansion, a depthwise kxk conv, an optional squeeze-excitation, a linear 1x1 projection, and a residual
 * Add when the stride is 1 and the channel count is kept. Channels are already rounded. */
typedef struct mb_block {
    int64_t in, exp, out;
    int kernel, stride;
    mb_act act;
    int64_t se;         /* squeeze channels; 0: no squeeze-excitation */
    const char *seq;    /* the torchvision Sequential's attribute name: "conv" (V2) or "block" (V3) */
    bool split_project; /* V2: the projection's Conv and BN are two entries (conv.k, conv.k+1), not one */
} mb_block;

/* torchvision's _make_divisible(v, divisor): round to the nearest multiple, at least divisor, at most 10%
 * below v. */
int64_t model_make_divisible(double v, int64_t divisor);

/* Conv2d (no bias unless bias), weights Kaiming-normal (fan-out), "same" padding (k-1)/2. The output value is
 * named out_name, or prefix when out_name is NULL; parameters prefix.weight and prefix.bias. */
int mb_conv(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t cin, int64_t cout, int k,
            int stride, int64_t groups, bool bias);
/* BatchNorm2d in inference form (weight 1, bias 0, running mean 0 and var 1). */
int mb_bn(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t ch);
/* An activation; MB_ACT_NONE returns x. Hardswish is x * HardSigmoid(x) (alpha 1/6, beta 1/2): opset 13 has
 * no HardSwish op (it came in opset 14), and that is how PyTorch exports it. */
int mb_act_add(mb_ctx *c, mb_act act, const char *out_name, int x);
/* torchvision's Conv2dNormActivation: prefix.0 Conv, prefix.1 BN, prefix.2 activation; its last output is
 * named out_name (NULL: after its layer). */
int mb_conv_bn_act(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t cin, int64_t cout, int k,
                   int stride, int64_t groups, mb_act act);
/* torchvision's SqueezeExcitation with ReLU and Hardsigmoid: x * hsig(fc2(relu(fc1(avgpool(x))))). */
int mb_se(mb_ctx *c, const char *prefix, int x, int64_t ch, int64_t squeeze);

/* The graph input "input" [N, in_channels, S, S]; sets c->x, c->ch. */
int mb_input(mb_ctx *c, const model_config *cfg);
/* The stem Conv2dNormActivation "features.0" (3x3, stride 2), then the blocks as features.1 ... features.nb,
 * on the main path; records stage k at the last tensor of stride 2^k. */
int mb_stem_and_blocks(mb_ctx *c, int64_t stem_ch, mb_act stem_act, const mb_block *blocks, int nb);
/* GlobalAveragePool ("avgpool") and Flatten ("flatten", the fc stage) of the main path. */
int mb_pool_flatten(mb_ctx *c);
/* nn.Linear as Gemm(transB=1): weight normal(0, 0.01), bias 0. */
int mb_linear(mb_ctx *c, const char *prefix, const char *out_name, int x, int64_t in, int64_t out);
/* nn.Dropout(p = c->dropout): ONNX Dropout with the ratio as a constant input (opset >= 12). */
int mb_dropout(mb_ctx *c, const char *name, int x);
/* Declares v as the graph output "logits". */
int mb_output(mb_ctx *c, int v);

/* The families (model_mobilenetv2.c, model_mobilenetv3.c). */
int model_mobilenetv2(mb_ctx *c, const model_config *cfg);
int model_mobilenetv3_small(mb_ctx *c, const model_config *cfg);
int model_mobilenetv3_large(mb_ctx *c, const model_config *cfg);

#endif
