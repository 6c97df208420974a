/* train_config.c — the run configuration: defaults, and its round trip through checkpoint metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "train_int.h"

void train_config_default(train_config *c)
{
    memset(c, 0, sizeof *c);
    c->width = 1.0;
    c->augment = c->shuffle = true;
    snprintf(c->heads, sizeof c->heads, "fc,stage5,stage4");
    snprintf(c->head_weights, sizeof c->head_weights, "1");
    c->hp.kind = HEAD_POLY;
    c->hp.degree = 2;
    c->hp.coef = 1.0f;
    c->hp.scale = HEAD_DEFAULT_SCALE;
    c->hp.gamma = 1.0f;
    c->hp.normalize = true;
    c->epochs = 10;
    c->batch = 128;
    c->lr = 0.05;
    c->momentum = 0.9;
    c->wd = 1e-4;
    snprintf(c->schedule, sizeof c->schedule, "cosine");
    c->seed = 1;
    c->ckpt_every = -1;
    c->log_every = -1;
}

#define SAVE_STR(key, v) (rc = train_ckpt_add_str(w, "cfg." key, (v) ? (v) : "", err))
#define SAVE_I64(key, v) (rc = train_ckpt_add_i64(w, "cfg." key, (int64_t)(v), err))
#define SAVE_F64(key, v) (rc = train_ckpt_add_f64(w, "cfg." key, (double)(v), err))

int train_config_save(const train_config *c, train_ckpt_writer *w, hpk_err *err)
{
    int rc = HPK_OK;
    if (SAVE_STR("model", c->model) || SAVE_F64("width", c->width) || SAVE_I64("classes", c->classes) ||
        SAVE_I64("input_size", c->input_size) || SAVE_I64("in_channels", c->in_channels) ||
        SAVE_STR("onnx", c->onnx) || SAVE_STR("data", c->data) || SAVE_STR("val", c->val) ||
        SAVE_STR("heads", c->heads) || SAVE_STR("head_weights", c->head_weights) ||
        SAVE_I64("head_kind", c->hp.kind) || SAVE_I64("degree", c->hp.degree) || SAVE_F64("coef", c->hp.coef) ||
        SAVE_F64("scale", c->hp.scale) || SAVE_F64("gamma", c->hp.gamma) || SAVE_I64("max_pool", c->hp.max_pool) ||
        SAVE_I64("normalize", c->hp.normalize) || SAVE_I64("epochs", c->epochs) || SAVE_I64("steps", c->steps) ||
        SAVE_I64("batch", c->batch) || SAVE_F64("lr", c->lr) || SAVE_F64("momentum", c->momentum) ||
        SAVE_F64("wd", c->wd) || SAVE_I64("nesterov", c->nesterov) || SAVE_STR("schedule", c->schedule) ||
        SAVE_I64("warmup", c->warmup) || SAVE_I64("seed", (int64_t)c->seed) || SAVE_I64("augment", c->augment) ||
        SAVE_I64("shuffle", c->shuffle) || SAVE_I64("ckpt_every", c->ckpt_every) ||
        SAVE_I64("log_every", c->log_every))
        return rc;
    return HPK_OK;
}

static int get_str(const train_ckpt *ck, const char *key, const char **out, hpk_err *err)
{
    size_t len;
    int rc = train_ckpt_get_str(ck, key, out, &len, err);
    if (!rc && len == 0)
        *out = NULL;
    return rc;
}

static int copy_str(const train_ckpt *ck, const char *key, char *dst, size_t cap, hpk_err *err)
{
    const char *s;
    size_t len;
    int rc = train_ckpt_get_str(ck, key, &s, &len, err);
    if (rc)
        return rc;
    if (len >= cap)
        return hpk_err_set(err, HPK_EINPUT, "%s: %s is too long", train_ckpt_label(ck), key);
    memcpy(dst, s, len);
    dst[len] = 0;
    return HPK_OK;
}

int train_config_load(train_config *c, const train_ckpt *ck, hpk_err *err)
{
    int64_t i[17];
    double f[8];
    int rc;
    train_config_default(c);
    if ((rc = get_str(ck, "cfg.model", &c->model, err)) || (rc = get_str(ck, "cfg.onnx", &c->onnx, err)) ||
        (rc = get_str(ck, "cfg.data", &c->data, err)) || (rc = get_str(ck, "cfg.val", &c->val, err)) ||
        (rc = copy_str(ck, "cfg.heads", c->heads, sizeof c->heads, err)) ||
        (rc = copy_str(ck, "cfg.head_weights", c->head_weights, sizeof c->head_weights, err)) ||
        (rc = copy_str(ck, "cfg.schedule", c->schedule, sizeof c->schedule, err)) ||
        (rc = train_ckpt_get_f64(ck, "cfg.width", &f[0], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.classes", &i[0], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.input_size", &i[1], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.in_channels", &i[2], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.head_kind", &i[3], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.degree", &i[4], err)) ||
        (rc = train_ckpt_get_f64(ck, "cfg.coef", &f[1], err)) ||
        (rc = train_ckpt_get_f64(ck, "cfg.scale", &f[2], err)) ||
        (rc = train_ckpt_get_f64(ck, "cfg.gamma", &f[3], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.max_pool", &i[5], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.normalize", &i[6], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.epochs", &i[7], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.steps", &i[8], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.batch", &i[9], err)) ||
        (rc = train_ckpt_get_f64(ck, "cfg.lr", &f[4], err)) ||
        (rc = train_ckpt_get_f64(ck, "cfg.momentum", &f[5], err)) ||
        (rc = train_ckpt_get_f64(ck, "cfg.wd", &f[6], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.nesterov", &i[10], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.warmup", &i[11], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.seed", &i[12], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.augment", &i[13], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.shuffle", &i[14], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.ckpt_every", &i[15], err)) ||
        (rc = train_ckpt_get_i64(ck, "cfg.log_every", &i[16], err)))
        return rc;
    const char *label = train_ckpt_label(ck);
    if (!c->model == !c->onnx)
        return hpk_err_set(err, HPK_EINPUT, "%s: the configuration names no model (or two)", label);
    if (!(f[0] > 0 && f[0] <= 4) || i[0] < 0 || i[0] > 100000 || i[1] < 0 || i[1] > 4096 || i[2] < 0 || i[2] > 1024 ||
        i[3] < HEAD_POLY || i[3] > HEAD_RBF || i[4] < 1 || i[4] > 8 || !isfinite(f[1]) || !isfinite(f[2]) ||
        !(f[3] > 0) || i[9] < 1 || i[9] > 65536 || !isfinite(f[4]))
        return hpk_err_set(err, HPK_EINPUT, "%s: the stored configuration is out of range", label);
    c->width = f[0];
    c->classes = (int)i[0];
    c->input_size = (int)i[1];
    c->in_channels = (int)i[2];
    c->hp.kind = (head_kind)i[3];
    c->hp.degree = (int)i[4];
    c->hp.coef = (float)f[1];
    c->hp.scale = (float)f[2];
    c->hp.gamma = (float)f[3];
    c->hp.max_pool = i[5] != 0;
    c->hp.normalize = i[6] != 0;
    c->epochs = i[7];
    c->steps = i[8];
    c->batch = (int)i[9];
    c->lr = f[4];
    c->momentum = f[5];
    c->wd = f[6];
    c->nesterov = i[10] != 0;
    c->warmup = i[11];
    c->seed = (uint64_t)i[12];
    c->augment = i[13] != 0;
    c->shuffle = i[14] != 0;
    c->ckpt_every = i[15] < 0 ? 0 : i[15];
    c->log_every = i[16] < 0 ? 50 : i[16];
    return HPK_OK;
}

static bool str_eq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

int train_config_compatible(const train_config *a, const train_config *b, hpk_err *err)
{
#define DIFF(cond, what)                                                                                     \
    if (cond)                                                                                                \
        return hpk_err_set(err, HPK_EUSAGE, "--resume: %s differs from the checkpoint's run", what);
    DIFF(!str_eq(a->model, b->model) || !str_eq(a->onnx, b->onnx), "the model");
    DIFF(a->model && a->width != b->width, "--width");
    DIFF(a->classes && b->classes && a->classes != b->classes, "--classes");
    DIFF(a->input_size && b->input_size && a->input_size != b->input_size, "--input-size");
    DIFF(a->in_channels && b->in_channels && a->in_channels != b->in_channels, "--in-channels");
    DIFF(!str_eq(a->data, b->data), "--data");
    DIFF(!str_eq(a->heads, b->heads) || !str_eq(a->head_weights, b->head_weights), "--heads/--head-weight");
    DIFF(a->hp.kind != b->hp.kind || a->hp.degree != b->hp.degree || a->hp.coef != b->hp.coef ||
             a->hp.scale != b->hp.scale || a->hp.gamma != b->hp.gamma || a->hp.max_pool != b->hp.max_pool ||
             a->hp.normalize != b->hp.normalize,
         "the head configuration");
    DIFF(a->batch != b->batch, "--batch");
    DIFF(a->epochs != b->epochs || a->steps != b->steps, "the run length (--epochs/--steps)");
    DIFF(a->lr != b->lr || a->momentum != b->momentum || a->wd != b->wd || a->nesterov != b->nesterov ||
             !str_eq(a->schedule, b->schedule) || a->warmup != b->warmup,
         "the optimizer or schedule");
    DIFF(a->seed != b->seed || a->augment != b->augment || a->shuffle != b->shuffle, "--seed/--no-augment/--no-shuffle");
#undef DIFF
    return HPK_OK;
}
