/* cmd_train.c — `hpk train`: trains a built-in or imported model with hpk heads (see the design notes' contract). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "trainer.h"

int cmd_train(int argc, char **argv, const cli_cmd *self)
{
    train_config c;
    train_config_default(&c);
    const char *heads = NULL, *kind = NULL, *pool = NULL, *weights = NULL, *schedule = NULL, *backend = NULL;
    long classes = 0, size = 0, chans = 0, degree = c.hp.degree, batch = c.batch, seed = (long)c.seed, threads = 0,
         warmup = 0, epochs = -1, steps = 0, ckpt_every = -1, log_every = -1, budget_mb = 0;
    double coef = c.hp.coef, scale = c.hp.scale, gamma = c.hp.gamma, lr = c.lr, momentum = c.momentum, wd = c.wd,
           width = c.width;
    bool no_augment = false, no_shuffle = false, resume = false, nesterov = false, no_normalize = false,
         quiet = false;
    const cli_flag flags[] = {
        {"--model", CLI_STR, &c.model, "NAME", "mobilenetv2 | mobilenetv3-small | mobilenetv3-large"},
        {"--width", CLI_DOUBLE, &width, "W", "width multiplier (default 1.0)"},
        {"--classes", CLI_INT, &classes, "K", "classes (default: the dataset's)"},
        {"--input-size", CLI_INT, &size, "S", "input side (default: the dataset recipe's, 32 for Fashion-MNIST)"},
        {"--in-channels", CLI_INT, &chans, "C", "input channels (default: the dataset's)"},
        {"--onnx", CLI_STR, &c.onnx, "MODEL.onnx", "train an imported ONNX model instead"},
        {"--data", CLI_STR, &c.data, "SPEC", "training data: fashion-mnist, idx:DIR, cifar10:DIR, folder:DIR, npy:X,Y"},
        {"--val", CLI_STR, &c.val, "SPEC", "validation data, evaluated at each epoch end"},
        {"--out", CLI_STR, &c.out, "RUNDIR", "run folder: checkpoint.hpk, metrics.csv, base.onnx"},
        {"--heads", CLI_STR, &heads, "LIST", "heads: stage names, tensor names, fc (default fc,stage5,stage4; '' none)"},
        {"--head-kind", CLI_STR, &kind, "KIND", "poly (default) | linear | rbf"},
        {"--degree", CLI_INT, &degree, "D", "polynomial degree d (default 2)"},
        {"--coef", CLI_DOUBLE, &coef, "C", "polynomial offset c (default 1)"},
        {"--scale", CLI_DOUBLE, &scale, "S", "logit scale s (default 2, for L2-normalized features and prototypes)"},
        {"--gamma", CLI_DOUBLE, &gamma, "G", "RBF bandwidth γ (default 1)"},
        {"--no-normalize", CLI_BOOL, &no_normalize, NULL, "do not L2-normalize head features and prototypes"},
        {"--pool", CLI_STR, &pool, "avg|max", "head pooling (default avg)"},
        {"--head-weight", CLI_STR, &weights, "L", "loss weight λ: one value or one per head (default 1)"},
        {"--epochs", CLI_INT, &epochs, "E", "epochs (default 10)"},
        {"--steps", CLI_INT, &steps, "N", "optimizer steps (overrides --epochs)"},
        {"--batch", CLI_INT, &batch, "B", "batch size (default 128)"},
        {"--lr", CLI_DOUBLE, &lr, "LR", "learning rate (default 0.05)"},
        {"--momentum", CLI_DOUBLE, &momentum, "M", "SGD momentum (default 0.9)"},
        {"--nesterov", CLI_BOOL, &nesterov, NULL, "Nesterov momentum"},
        {"--wd", CLI_DOUBLE, &wd, "WD", "weight decay (default 1e-4)"},
        {"--schedule", CLI_STR, &schedule, "cosine|const", "learning-rate schedule (default cosine)"},
        {"--warmup", CLI_INT, &warmup, "N", "linear warmup steps (default 0)"},
        {"--seed", CLI_INT, &seed, "N", "seed of initialization, shuffling, augmentation, dropout (default 1)"},
        {"--threads", CLI_INT, &threads, "N", "compute threads (default: all cores)"},
        {"--backend", CLI_STR, &backend, "NAME", "onednn (default) | ref"},
        {"--no-augment", CLI_BOOL, &no_augment, NULL, "no random crop/flip"},
        {"--no-shuffle", CLI_BOOL, &no_shuffle, NULL, "keep the dataset order"},
        {"--resume", CLI_BOOL, &resume, NULL, "continue the run in RUNDIR exactly where it stopped"},
        {"--checkpoint-every", CLI_INT, &ckpt_every, "N", "also checkpoint every N steps (default: epoch ends)"},
        {"--log-every", CLI_INT, &log_every, "N", "steps between log lines and metric rows (default 50)"},
        {"--mem-budget", CLI_INT, &budget_mb, "MB", "refuse models/datasets needing more memory (default: none)"},
        {"--quiet", CLI_BOOL, &quiet, NULL, "no progress output"},
        {0},
    };
    const char *pos[1];
    int npos, rc = cli_parse(argc, argv, self, flags, pos, 0, &npos);
    if (rc)
        return rc < 0 ? 0 : rc;
    hpk_err err = {0};
#define BAD(cond, msg)                                                                                       \
    if (cond) {                                                                                              \
        fprintf(stderr, "hpk train: %s (see hpk train --help)\n", msg);                                      \
        return 2;                                                                                            \
    }
    BAD(!c.out, "--out RUNDIR is required");
    BAD(!resume && !c.data, "--data SPEC is required");
    BAD(!resume && !c.model == !c.onnx, "give exactly one of --model NAME and --onnx MODEL.onnx");
    BAD(!(width > 0 && width <= 4), "--width must be in (0, 4]");
    BAD(classes < 0 || classes > 100000 || size < 0 || size > 4096 || chans < 0 || chans > 1024,
        "--classes/--input-size/--in-channels out of range");
    BAD(degree < 1 || degree > 8, "--degree must be 1..8");
    BAD(!(scale > 0 && scale < 1e4) || !(gamma > 0 && gamma < 1e4) || !(coef > -1e4 && coef < 1e4),
        "--scale, --gamma and --coef must be finite (scale, gamma > 0)");
    BAD(batch < 1 || batch > 65536, "--batch must be 1..65536");
    BAD(epochs == 0 || epochs < -1 || steps < 0 || warmup < 0 || ckpt_every < -1 || log_every < -1 || budget_mb < 0,
        "--epochs, --steps, --warmup, --checkpoint-every, --log-every and --mem-budget must be positive");
    BAD(threads < 0 || threads > 1024 || seed < 0, "--threads/--seed out of range");
    if (heads) {
        BAD(strlen(heads) >= sizeof c.heads, "--heads list is too long");
        snprintf(c.heads, sizeof c.heads, "%s", heads);
    }
    if (weights) {
        BAD(strlen(weights) >= sizeof c.head_weights, "--head-weight list is too long");
        snprintf(c.head_weights, sizeof c.head_weights, "%s", weights);
    }
    if (kind && head_kind_parse(kind, &c.hp.kind)) {
        fprintf(stderr, "hpk train: --head-kind must be poly, linear or rbf\n");
        return 2;
    }
    BAD(pool && strcmp(pool, "avg") && strcmp(pool, "max"), "--pool must be avg or max");
    c.hp.max_pool = pool && strcmp(pool, "max") == 0;
    c.hp.degree = (int)degree;
    c.hp.coef = (float)coef;
    c.hp.scale = (float)scale;
    c.hp.gamma = (float)gamma;
    c.hp.normalize = !no_normalize;
    c.width = width;
    c.classes = (int)classes;
    c.input_size = (int)size;
    c.in_channels = (int)chans;
    if (epochs > 0)
        c.epochs = epochs;
    c.steps = steps;
    c.batch = (int)batch;
    c.lr = lr;
    c.momentum = momentum;
    c.wd = wd;
    c.nesterov = nesterov;
    if (schedule) {
        BAD(strlen(schedule) >= sizeof c.schedule, "--schedule must be cosine or const");
        snprintf(c.schedule, sizeof c.schedule, "%s", schedule);
    }
    c.warmup = warmup;
    c.seed = (uint64_t)seed;
    c.threads = (int)threads;
    if (backend) {
        BAD(strlen(backend) >= sizeof c.backend, "unknown --backend");
        snprintf(c.backend, sizeof c.backend, "%s", backend);
    }
    c.augment = !no_augment;
    c.shuffle = !no_shuffle;
    c.resume = resume;
    c.ckpt_every = ckpt_every;
    c.log_every = log_every;
    c.mem_budget = (size_t)budget_mb << 20;
    c.quiet = quiet;
#undef BAD
    if ((rc = train_run(&c, &err)))
        return cli_fail(self, &err);
    return 0;
}
