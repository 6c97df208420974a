/* model_mobilenetv2.c — MobileNetV2 (Sandler et al. 2018) as torchvision builds it, into hpk's IR. */
#include <math.h>
#include <stdio.h>

#include "model_int.h"

/* torchvision's inverted_residual_setting: expansion t, channels c, repeats n, first stride s */
static const struct {
    int t, c, n, s;
} setting[] = {
    {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1},
};

int model_mobilenetv2(mb_ctx *c, const model_config *cfg)
{
    mb_block blocks[32];
    int nb = 0;
    double w = cfg->width;
    int64_t stem = model_make_divisible(32 * w, 8), in = stem;
    int64_t last = model_make_divisible(1280 * fmax(1.0, w), 8);
    c->bn_eps = 1e-5f;
    c->bn_momentum = 0.9f; /* torch's 0.1 */
    for (size_t i = 0; i < sizeof setting / sizeof setting[0]; i++) {
        int64_t out = model_make_divisible(setting[i].c * w, 8);
        for (int r = 0; r < setting[i].n; r++) {
            blocks[nb++] = (mb_block){.in = in, .exp = in * setting[i].t, .out = out, .kernel = 3,
                                      .stride = r == 0 ? setting[i].s : 1, .act = MB_ACT_RELU6, .se = 0,
                                      .seq = "conv", .split_project = true};
            in = out;
        }
    }
    char last_name[32];
    snprintf(last_name, sizeof last_name, "features.%d", nb + 1);
    if (mb_input(c, cfg) < 0 || mb_stem_and_blocks(c, stem, MB_ACT_RELU6, blocks, nb) < 0)
        return -1;
    /* the final 1x1 conv, then classifier = Dropout, Linear */
    int y = mb_conv_bn_act(c, last_name, last_name, c->x, in, last, 1, 1, 1, MB_ACT_RELU6);
    if (y < 0)
        return -1;
    c->x = y;
    y = mb_pool_flatten(c);
    y = y < 0 ? -1 : mb_dropout(c, "classifier.0", y);
    y = y < 0 ? -1 : mb_linear(c, "classifier.1", "logits", y, last, cfg->classes);
    return mb_output(c, y);
}
