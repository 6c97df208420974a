/* train_loop.c — the training loop: steps on a backend, SGD, schedule, metrics, checkpoints, resume, signals. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt.h"
#include "data.h"
#include "onnx.h"
#include "optim.h"
#include "passes.h"
#include "schedule.h"
#include "train_int.h"

/* The one piece of process-wide state: a signal handler can only reach a static. SIGINT asks the loop to
 * finish its step, checkpoint and stop; a second SIGINT kills the process as usual. */
static volatile sig_atomic_t train_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    train_interrupted = 1;
    signal(SIGINT, SIG_DFL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void fmt_eta(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, n, "?");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static int mkdir_p(const char *path, hpk_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return hpk_err_set(err, HPK_EUSAGE, "--out path is too long");
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return hpk_err_set(err, HPK_EIO, "%s: cannot create: %s", buf, strerror(errno));
            *p = '/';
        }
    if (mkdir(buf, 0777) && errno != EEXIST)
        return hpk_err_set(err, HPK_EIO, "%s: cannot create: %s", buf, strerror(errno));
    return HPK_OK;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Everything a run holds; freed by run_free. */
typedef struct run {
    train_config *c;
    char ckpt_path[4096], metrics_path[4096];
    data_dataset *ds;
    data_loader *loader;
    train_graphs rg;
    const be_vtable *be;
    be_plan *plan, *eval_plan;
    train_sgd *opt;
    train_param *params;
    int n_params;
    train_schedule sched;
    hpk_tensor *x, *y, *logits;
    const float *loss_buf[HEADS_MAX + 1];
    /* BN running statistics: the graph output "<stat>/new" and the state initializer it replaces */
    int n_stats;
    float **stat_dst;
    const float **stat_src;
    size_t *stat_n;
    long bpe, total, step, epoch, batch_in_epoch;
    FILE *metrics;
    long last_good_step;
} run;

static void run_free(run *r)
{
    if (r->plan)
        r->be->free(r->plan);
    if (r->params)
        train_params_free(r->rg.train, r->params, r->n_params);
    train_sgd_free(r->opt);
    data_loader_free(r->loader);
    data_dataset_free(r->ds);
    train_graphs_free(&r->rg);
    free(r->stat_dst);
    free(r->stat_src);
    free(r->stat_n);
    if (r->metrics)
        fclose(r->metrics);
}

static int save_checkpoint(run *r, hpk_err *err)
{
    train_ckpt_writer *w = NULL;
    int rc = train_ckpt_writer_init(&w, hpk_alloc_default(), err);
    if (rc)
        return rc;
    if ((rc = train_ckpt_add_graph(w, r->rg.train, err)) || (rc = train_sgd_save(r->opt, w, err)) ||
        (rc = train_config_save(r->c, w, err)) || (rc = train_ckpt_add_i64(w, "step", r->step, err)) ||
        (rc = train_ckpt_add_i64(w, "epoch", r->epoch, err)) ||
        (rc = train_ckpt_add_i64(w, "batch", r->batch_in_epoch, err)) ||
        (rc = train_ckpt_add_str(w, "hpk.version", "0.1.0", err)) ||
        (rc = train_ckpt_write(w, r->ckpt_path, err))) {
        train_ckpt_writer_free(w);
        return rc;
    }
    train_ckpt_writer_free(w);
    r->last_good_step = r->step;
    return HPK_OK;
}

static int restore_checkpoint(run *r, const train_ckpt *ck, hpk_err *err)
{
    int64_t step, epoch, batch;
    int rc;
    if ((rc = train_ckpt_get_i64(ck, "step", &step, err)) || (rc = train_ckpt_get_i64(ck, "epoch", &epoch, err)) ||
        (rc = train_ckpt_get_i64(ck, "batch", &batch, err)))
        return rc;
    if (step < 0 || epoch < 0 || batch < 0 || batch > r->bpe || step > r->total)
        return hpk_err_set(err, HPK_EINPUT, "%s: the stored position (step %lld) does not fit this run",
                           r->ckpt_path, (long long)step);
    if ((rc = train_ckpt_load_graph(ck, r->rg.train, err)) || (rc = train_sgd_load(r->opt, ck, err)))
        return rc;
    r->step = step;
    r->epoch = epoch;
    r->batch_in_epoch = batch;
    r->last_good_step = step;
    return HPK_OK;
}

/* Points the optimizer's parameter list at the gradients the plan computes; keeps only parameters that get one. */
static int bind_params(run *r, hpk_err *err)
{
    ir_graph *g = r->rg.train;
    int k = 0;
    for (int i = 0; i < r->n_params; i++) {
        char nm[512];
        snprintf(nm, sizeof nm, "grad/%s", r->params[i].name);
        int gv = ir_graph_find(g, nm);
        if (gv < 0) {
            if (!r->c->quiet)
                fprintf(stderr, "hpk train: note: parameter '%s' does not affect the loss; it is not trained\n",
                        r->params[i].name);
            continue;
        }
        r->params[k] = r->params[i];
        r->params[k].grad = r->be->io(r->plan, gv)->data;
        k++;
    }
    r->n_params = k;
    if (k == 0)
        return hpk_err_set(err, HPK_EINPUT, "the model has no trainable parameters");
    /* running statistics */
    r->stat_dst = calloc((size_t)g->n_outputs + 1, sizeof *r->stat_dst);
    r->stat_src = calloc((size_t)g->n_outputs + 1, sizeof *r->stat_src);
    r->stat_n = calloc((size_t)g->n_outputs + 1, sizeof *r->stat_n);
    if (!r->stat_dst || !r->stat_src || !r->stat_n)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->op != IR_OP_BatchNormalization || n->n_out < 3)
            continue;
        for (int j = 1; j <= 2; j++) {
            ir_value *st = &g->values[n->in[2 + j]];
            r->stat_dst[r->n_stats] = st->init->data;
            r->stat_src[r->n_stats] = r->be->io(r->plan, n->out[j])->data;
            r->stat_n[r->n_stats] = st->init->nbytes / sizeof(float);
            r->n_stats++;
        }
    }
    return HPK_OK;
}

static int open_data(run *r, hpk_err *err)
{
    train_config *c = r->c;
    int rc = data_dataset_open(&r->ds, c->data, c->mem_budget, err);
    if (rc)
        return rc;
    const data_info *di = data_dataset_info(r->ds);
    data_loader_opts o;
    data_loader_opts_default(&o, r->ds, 1);
    /* the model's input geometry decides the loader's */
    const ir_shape *is = &r->rg.train->values[r->rg.train->inputs[0]].shape;
    if (is->rank != 4 || is->d[1] < 1 || is->d[2] < 1 || is->d[2] != is->d[3])
        return hpk_err_set(err, HPK_EINPUT, "the model input must be N×C×S×S with C and S fixed");
    o.size = di->is_float ? 0 : (int)is->d[2];
    o.channels = (int)is->d[1];
    o.batch = c->batch;
    o.augment = c->augment;
    o.flip = o.flip && c->augment;
    o.shuffle = c->shuffle;
    o.drop_last = 1;
    o.seed = c->seed;
    o.threads = 2;
    o.epochs = 0; /* endless: the loop counts steps */
    o.start_epoch = r->epoch;
    o.start_batch = r->batch_in_epoch;
    o.mem_budget = c->mem_budget;
    if ((rc = data_loader_create(&r->loader, r->ds, &o, err)))
        return rc;
    int lc, lh, lw;
    data_loader_geometry(r->loader, &lc, &lh, &lw);
    if (lc != is->d[1] || lh != is->d[2] || lw != is->d[3])
        return hpk_err_set(err, HPK_EINPUT, "%s: samples are %d×%d×%d, the model takes %lld×%lld×%lld", c->data, lc,
                           lh, lw, (long long)is->d[1], (long long)is->d[2], (long long)is->d[3]);
    r->bpe = data_loader_batches_per_epoch(r->loader);
    if (r->bpe < 1)
        return hpk_err_set(err, HPK_EINPUT, "%s: %zu samples do not make one batch of %d", c->data, di->count,
                           c->batch);
    return HPK_OK;
}

static int validate(run *r, eval_result *ev, hpk_err *err)
{
    int rc = train_copy_params(r->rg.train, r->rg.eval, err);
    if (rc)
        return rc;
    return train_evaluate(r->rg.eval, r->c->val, r->be, r->c->threads, r->c->batch, r->c->mem_budget, ev, err);
}

static void metrics_header(run *r)
{
    fprintf(r->metrics, "step,epoch,loss,lr,train_top1,train_top5,val_top1,val_top5,img_per_s");
    for (int i = 0; i < r->rg.n_losses; i++)
        fprintf(r->metrics, ",loss_%s", r->rg.loss_names[i]);
    fprintf(r->metrics, "\n");
    fflush(r->metrics);
}

typedef struct window {
    double loss, head[HEADS_MAX + 1], t0;
    long steps, samples, top1, top5;
} window;

static void window_reset(window *w)
{
    memset(w, 0, sizeof *w);
    w->t0 = now_s();
}

static void log_row(run *r, const window *w, double lr, const eval_result *ev, bool line)
{
    double ips = w->samples / fmax(now_s() - w->t0, 1e-9), n = w->steps ? (double)w->steps : 1;
    double t1 = w->samples ? 100.0 * (double)w->top1 / (double)w->samples : 0;
    double t5 = w->samples ? 100.0 * (double)w->top5 / (double)w->samples : 0;
    fprintf(r->metrics, "%ld,%ld,%.6f,%.6g,%.3f,%.3f,", r->step, r->epoch, w->loss / n, lr, t1, t5);
    if (ev)
        fprintf(r->metrics, "%.3f,%.3f,", ev->top1, ev->top5);
    else
        fprintf(r->metrics, ",,");
    fprintf(r->metrics, "%.1f", ips);
    for (int i = 0; i < r->rg.n_losses; i++)
        fprintf(r->metrics, ",%.6f", w->head[i] / n);
    fprintf(r->metrics, "\n");
    fflush(r->metrics);
    if (!line || r->c->quiet)
        return;
    char eta[32], heads[256] = "";
    fmt_eta((double)(r->total - r->step) * (double)r->c->batch / fmax(ips, 1e-9), eta, sizeof eta);
    if (r->rg.n_losses > 1) {
        size_t k = 0;
        for (int i = 0; i < r->rg.n_losses && k < sizeof heads - 40; i++)
            k += (size_t)snprintf(heads + k, sizeof heads - k, "%s%s %.3f", i ? " " : " (", r->rg.loss_names[i],
                                  w->head[i] / n);
        snprintf(heads + k, sizeof heads - k, ")");
    }
    printf("epoch %ld step %ld/%ld loss %.4f%s lr %.4g top-1 %.1f%% %.0f img/s ETA %s", r->epoch + 1, r->step,
           r->total, w->loss / n, heads, lr, t1, ips, eta);
    if (ev)
        printf(" | val top-1 %.2f%% top-5 %.2f%%", ev->top1, ev->top5);
    printf("\n");
    fflush(stdout);
}

static int build_run(run *r, const train_ckpt *ck, hpk_err *err)
{
    train_config *c = r->c;
    int rc;
    /* the dataset decides a built model's defaults; peek at it before building */
    data_dataset *peek = NULL;
    if ((rc = data_dataset_open(&peek, c->data, c->mem_budget, err)))
        return rc;
    data_loader_opts po;
    data_loader_opts_default(&po, peek, 1);
    const data_info *di = data_dataset_info(peek);
    int classes = di->classes, size = di->is_float ? di->h : po.size, chans = di->is_float ? di->c : (po.channels ? po.channels : di->c);
    data_dataset_free(peek);
    if (!c->classes && c->model)
        c->classes = classes;
    if (!c->input_size && c->model)
        c->input_size = size;
    if (!c->in_channels && c->model)
        c->in_channels = chans;
    ir_graph *base = NULL;
    if ((rc = train_base_model(c, classes, size, chans, &base, err)))
        return rc;
    if ((rc = train_graphs_build(c, base, &r->rg, true, err)))
        return rc;
    if ((rc = open_data(r, err)))
        return rc;
    r->total = c->steps > 0 ? c->steps : c->epochs * r->bpe;
    if (r->total < 1)
        return hpk_err_set(err, HPK_EUSAGE, "the run has no steps (--epochs %ld, --steps %ld)", c->epochs, c->steps);
    train_sched_kind kind;
    if ((rc = train_schedule_parse_kind(c->schedule, &kind, err)))
        return rc;
    r->sched = (train_schedule){kind, c->lr, r->total, c->warmup};
    if ((rc = train_schedule_check(&r->sched, err)))
        return rc;
    train_sgd_config sc = train_sgd_config_default();
    sc.lr = (float)c->lr;
    sc.momentum = (float)c->momentum;
    sc.weight_decay = (float)c->wd;
    sc.nesterov = c->nesterov;
    if ((rc = train_sgd_config_check(&sc, err)) ||
        (rc = train_params_from_graph(r->rg.train, &r->params, &r->n_params, err)))
        return rc;
    /* the plan */
    ir_graph *g = r->rg.train;
    ir_shape in[2];
    for (int i = 0; i < g->n_inputs; i++) {
        in[i] = g->values[g->inputs[i]].shape;
        in[i].d[0] = c->batch;
    }
    be_options bo = {.threads = c->threads, .params_mutable = true, .mem_budget = c->mem_budget};
    if (g->n_inputs != 2)
        return hpk_err_set(err, HPK_EINTERNAL, "the training graph has %d inputs, expected image and labels", g->n_inputs);
    if ((rc = r->be->prepare(g, &bo, in, &r->plan, err)) || (rc = bind_params(r, err)))
        return rc;
    if ((rc = train_sgd_init(&r->opt, &sc, r->params, r->n_params, hpk_alloc_default(), err)))
        return rc;
    r->x = r->be->io(r->plan, g->inputs[0]);
    r->y = r->be->io(r->plan, g->inputs[1]);
    r->logits = r->be->io(r->plan, g->outputs[0]);
    for (int i = 0; i < r->rg.n_losses; i++)
        r->loss_buf[i] = r->be->io(r->plan, r->rg.train_losses[i].value)->data;
    if (ck && (rc = restore_checkpoint(r, ck, err)))
        return rc;
    if (ck) { /* the loader must start where the checkpoint stopped */
        data_loader_free(r->loader);
        r->loader = NULL;
        data_dataset_free(r->ds);
        r->ds = NULL;
        if ((rc = open_data(r, err)))
            return rc;
    }
    return HPK_OK;
}

static int save_base_model(run *r, hpk_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/base.onnx", r->c->out);
    return onnx_save(r->rg.base, path, err);
}

int train_run(train_config *c, hpk_err *err)
{
    run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.last_good_step = -1;
    int rc;
    train_ckpt *ck = NULL;
    train_config stored;
    if (!c->out)
        return hpk_err_set(err, HPK_EUSAGE, "--out RUNDIR is required");
    if ((rc = mkdir_p(c->out, err)))
        return rc;
    snprintf(r.ckpt_path, sizeof r.ckpt_path, "%s/%s", c->out, TRAIN_CKPT_FILE);
    snprintf(r.metrics_path, sizeof r.metrics_path, "%s/metrics.csv", c->out);
    if (c->resume) {
        if ((rc = train_ckpt_read(r.ckpt_path, hpk_alloc_default(), &ck, err)) ||
            (rc = train_config_load(&stored, ck, err)))
            goto done;
        if (!c->model && !c->onnx) { /* --out RUNDIR --resume alone: the stored run */
            stored.threads = c->threads;
            memcpy(stored.backend, c->backend, sizeof stored.backend);
            stored.mem_budget = c->mem_budget;
            if (c->ckpt_every >= 0)
                stored.ckpt_every = c->ckpt_every;
            if (c->log_every >= 0)
                stored.log_every = c->log_every;
            stored.out = c->out;
            stored.quiet = c->quiet;
            stored.resume = true;
            *c = stored;
        } else if ((rc = train_config_compatible(c, &stored, err))) {
            goto done;
        }
    } else if (file_exists(r.ckpt_path)) {
        rc = hpk_err_set(err, HPK_EUSAGE, "%s already holds a run (%s); continue it with --resume or choose another --out",
                         c->out, r.ckpt_path);
        goto done;
    }
    if (c->ckpt_every < 0)
        c->ckpt_every = 0;
    if (c->log_every < 0)
        c->log_every = 50;
    if (!c->model == !c->onnx) {
        rc = hpk_err_set(err, HPK_EUSAGE, "give exactly one of --model NAME and --onnx MODEL.onnx");
        goto done;
    }
    if (!c->data) {
        rc = hpk_err_set(err, HPK_EUSAGE, "--data SPEC is required");
        goto done;
    }
    r.be = c->backend[0] ? be_find(c->backend) : be_default();
    if (!r.be) {
        rc = hpk_err_set(err, HPK_EUSAGE, "unknown backend '%s'", c->backend);
        goto done;
    }
    if ((rc = build_run(&r, ck, err)))
        goto done;
    if (!c->resume && (rc = save_base_model(&r, err)))
        goto done;
    bool fresh_metrics = !c->resume || !file_exists(r.metrics_path);
    r.metrics = fopen(r.metrics_path, fresh_metrics ? "w" : "a");
    if (!r.metrics) {
        rc = hpk_err_set(err, HPK_EIO, "%s: cannot open: %s", r.metrics_path, strerror(errno));
        goto done;
    }
    if (fresh_metrics)
        metrics_header(&r);
    if (!c->quiet) {
        printf("hpk train: %s %s, %d parameters tensors, %ld steps of %d (%ld per epoch), backend %s, run %s\n",
               c->model ? c->model : c->onnx, c->heads[0] ? c->heads : "(no heads)", r.n_params, r.total, c->batch,
               r.bpe, r.be->name, c->out);
        if (c->resume)
            printf("hpk train: resuming at step %ld (epoch %ld, batch %ld)\n", r.step, r.epoch + 1, r.batch_in_epoch);
        fflush(stdout);
    }
    struct sigaction sa, old_int, old_xfsz;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    train_interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sa.sa_handler = SIG_IGN; /* a file-size limit makes the checkpoint write fail with EFBIG, not kill us */
    sigaction(SIGXFSZ, &sa, &old_xfsz);

    window w;
    window_reset(&w);
    bool tty = isatty(STDERR_FILENO) && !c->quiet;
    double lr = 0;
    data_batch b;
    while (r.step < r.total) {
        int n = data_loader_next(r.loader, &b, err);
        if (n < 0) {
            rc = -n;
            break;
        }
        if (n == 0) { /* end of an epoch */
            r.epoch++;
            r.batch_in_epoch = 0;
            eval_result ev, *evp = NULL;
            if (c->val) {
                if ((rc = validate(&r, &ev, err)))
                    break;
                evp = &ev;
            }
            log_row(&r, &w, lr, evp, true);
            window_reset(&w);
            if ((rc = save_checkpoint(&r, err)))
                break;
            continue;
        }
        memcpy(r.x->data, b.x, r.x->nbytes);
        memcpy(r.y->data, b.y, r.y->nbytes);
        if (r.be->set_seed)
            r.be->set_seed(r.plan, c->seed * 0x9e3779b97f4a7c15ull + (uint64_t)r.step);
        if ((rc = r.be->run(r.plan, err)))
            break;
        double total = 0;
        for (int i = 0; i < r.rg.n_losses; i++) {
            double l = *r.loss_buf[i];
            total += r.rg.losses[i].weight * l;
            w.head[i] += l;
        }
        if (!isfinite(total)) {
            char kept[128];
            if (r.last_good_step >= 0)
                snprintf(kept, sizeof kept, "the last good checkpoint (step %ld) is kept", r.last_good_step);
            else
                snprintf(kept, sizeof kept, "no checkpoint was written");
            rc = hpk_err_set(err, HPK_EINPUT, "step %ld: the loss is %s: training diverged (try a lower --lr); %s",
                             r.step + 1, isnan(total) ? "NaN" : "Inf", kept);
            break;
        }
        lr = train_schedule_lr(&r.sched, r.step);
        if ((rc = train_sgd_step(r.opt, r.params, r.n_params, (float)lr, err)))
            break;
        for (int i = 0; i < r.n_stats; i++)
            memcpy(r.stat_dst[i], r.stat_src[i], r.stat_n[i] * sizeof(float));
        train_topk(r.logits->data, b.y, n, (int)r.logits->dims[1], &w.top1, &w.top5);
        w.loss += total;
        w.steps++;
        w.samples += n;
        r.step++;
        r.batch_in_epoch++;
        if (tty) {
            char eta[32];
            double ips = w.samples / fmax(now_s() - w.t0, 1e-9);
            fmt_eta((double)(r.total - r.step) * c->batch / ips, eta, sizeof eta);
            fprintf(stderr, "\repoch %ld step %ld/%ld loss %.4f lr %.4g %.0f img/s ETA %s   ", r.epoch + 1, r.step,
                    r.total, w.loss / (double)w.steps, lr, ips, eta);
        }
        if (c->log_every > 0 && r.step % c->log_every == 0) {
            if (tty)
                fprintf(stderr, "\r");
            log_row(&r, &w, lr, NULL, true);
            window_reset(&w);
        }
        if (c->ckpt_every > 0 && r.step % c->ckpt_every == 0 && (rc = save_checkpoint(&r, err)))
            break;
        if (train_interrupted) {
            if (tty)
                fprintf(stderr, "\n");
            if ((rc = save_checkpoint(&r, err)))
                break;
            printf("hpk train: interrupted at step %ld; checkpoint saved in %s (continue with --resume)\n", r.step,
                   r.ckpt_path);
            break;
        }
    }
    if (tty)
        fprintf(stderr, "\n");
    if (!rc && !train_interrupted && r.step >= r.total) {
        eval_result ev, *evp = NULL;
        if (c->val && r.batch_in_epoch > 0) { /* a run that ended mid-epoch (--steps) */
            if ((rc = validate(&r, &ev, err)) == HPK_OK)
                evp = &ev;
        }
        if (!rc && (w.steps || evp))
            log_row(&r, &w, lr, evp, true);
        if (!rc && r.last_good_step != r.step)
            rc = save_checkpoint(&r, err);
        if (!rc && !c->quiet)
            printf("hpk train: done: %ld steps; checkpoint %s, metrics %s\n", r.step, r.ckpt_path, r.metrics_path);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGXFSZ, &old_xfsz, NULL);
    char skipped[1024];
    if (r.ds && data_dataset_skipped_report(r.ds, skipped, sizeof skipped, 5) > 0)
        printf("hpk train: %s\n", skipped);
done:
    run_free(&r);
    train_ckpt_free(ck);
    return rc;
}

int train_load_run(const char *rundir, ir_graph **out, hpk_err *err)
{
    char path[4200];
    train_ckpt *ck = NULL;
    train_config c;
    train_graphs rg;
    memset(&rg, 0, sizeof rg);
    *out = NULL;
    snprintf(path, sizeof path, "%s/%s", rundir, TRAIN_CKPT_FILE);
    int rc = train_ckpt_read(path, hpk_alloc_default(), &ck, err);
    if (rc)
        return rc;
    if ((rc = train_config_load(&c, ck, err)))
        goto done;
    char base_path[4200];
    snprintf(base_path, sizeof base_path, "%s/base.onnx", rundir);
    if (c.onnx)
        c.onnx = base_path; /* the run keeps its own copy of the imported model */
    ir_graph *base = NULL;
    if ((rc = train_base_model(&c, c.classes, c.input_size, c.in_channels, &base, err)))
        goto done;
    /* the heads graph holds every tensor the checkpoint has: load it, then strip the heads */
    if ((rc = train_graphs_build(&c, base, &rg, false, err)) || (rc = train_ckpt_load_graph(ck, rg.heads, err)) ||
        (rc = pass_remove_heads(rg.heads, err)) || (rc = ir_verify(rg.heads, err)))
        goto done;
    *out = rg.heads;
    rg.heads = NULL;
done:
    train_graphs_free(&rg);
    train_ckpt_free(ck);
    return rc;
}
