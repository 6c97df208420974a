/* model_mobilenetv3.c — MobileNetV3-small and -large (Howard et al. 2019) as torchvision builds them. */
#include <stdio.h>

#include "model_int.h"

/* torchvision's bneck_conf rows: input, kernel, expanded, output channels, SE, hardswish, stride */
typedef struct v3_row {
    int in, k, exp, out, se, hs, s;
} v3_row;

static const v3_row large[] = {
    {16, 3, 16, 16, 0, 0, 1},    {16, 3, 64, 24, 0, 0, 2},    {24, 3, 72, 24, 0, 0, 1},
    {24, 5, 72, 40, 1, 0, 2},    {40, 5, 120, 40, 1, 0, 1},   {40, 5, 120, 40, 1, 0, 1},
    {40, 3, 240, 80, 0, 1, 2},   {80, 3, 200, 80, 0, 1, 1},   {80, 3, 184, 80, 0, 1, 1},
    {80, 3, 184, 80, 0, 1, 1},   {80, 3, 480, 112, 1, 1, 1},  {112, 3, 672, 112, 1, 1, 1},
    {112, 5, 672, 160, 1, 1, 2}, {160, 5, 960, 160, 1, 1, 1}, {160, 5, 960, 160, 1, 1, 1},
};

static const v3_row small[] = {
    {16, 3, 16, 16, 1, 0, 2},  {16, 3, 72, 24, 0, 0, 2},   {24, 3, 88, 24, 0, 0, 1},  {24, 5, 96, 40, 1, 1, 2},
    {40, 5, 240, 40, 1, 1, 1}, {40, 5, 240, 40, 1, 1, 1},  {40, 5, 120, 48, 1, 1, 1}, {48, 5, 144, 48, 1, 1, 1},
    {48, 5, 288, 96, 1, 1, 2}, {96, 5, 576, 96, 1, 1, 1},  {96, 5, 576, 96, 1, 1, 1},
};

static int build(mb_ctx *c, const model_config *cfg, const v3_row *rows, int nb, int last_channel)
{
    mb_block blocks[16];
    double w = cfg->width;
    c->bn_eps = 1e-3f;
    c->bn_momentum = 0.99f; /* torch's 0.01 */
    for (int i = 0; i < nb; i++) {
        int64_t exp = model_make_divisible(rows[i].exp * w, 8);
        blocks[i] = (mb_block){.in = model_make_divisible(rows[i].in * w, 8),
                               .exp = exp,
                               .out = model_make_divisible(rows[i].out * w, 8),
                               .kernel = rows[i].k,
                               .stride = rows[i].s,
                               .act = rows[i].hs ? MB_ACT_HARDSWISH : MB_ACT_RELU,
                               .se = rows[i].se ? model_make_divisible((double)(exp / 4), 8) : 0,
                               .seq = "block",
                               .split_project = false};
    }
    int64_t last_in = blocks[nb - 1].out, last_out = 6 * last_in;
    int64_t hidden = model_make_divisible(last_channel * w, 8);
    char last_name[32];
    snprintf(last_name, sizeof last_name, "features.%d", nb + 1);
    if (mb_input(c, cfg) < 0 || mb_stem_and_blocks(c, blocks[0].in, MB_ACT_HARDSWISH, blocks, nb) < 0)
        return -1;
    /* the final 1x1 conv, then classifier = Linear, Hardswish, Dropout, Linear */
    int y = mb_conv_bn_act(c, last_name, last_name, c->x, last_in, last_out, 1, 1, 1, MB_ACT_HARDSWISH);
    if (y < 0)
        return -1;
    c->x = y;
    y = mb_pool_flatten(c);
    y = y < 0 ? -1 : mb_linear(c, "classifier.0", NULL, y, last_out, hidden);
    y = y < 0 ? -1 : mb_act_add(c, MB_ACT_HARDSWISH, "classifier.1", y);
    y = y < 0 ? -1 : mb_dropout(c, "classifier.2", y);
    y = y < 0 ? -1 : mb_linear(c, "classifier.3", "logits", y, hidden, cfg->classes);
    return mb_output(c, y);
}

int model_mobilenetv3_small(mb_ctx *c, const model_config *cfg)
{
    return build(c, cfg, small, (int)(sizeof small / sizeof small[0]), 1024);
}

int model_mobilenetv3_large(mb_ctx *c, const model_config *cfg)
{
    return build(c, cfg, large, (int)(sizeof large / sizeof large[0]), 1280);
}
