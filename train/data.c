/* data.c — datasets: the SPEC grammar, open/free, item access, the skip record and shared helpers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_int.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

int data_budget_check(size_t need, size_t budget, const char *what, hpk_err *err)
{
    if (budget && need > budget)
        return hpk_err_set(err, HPK_ENOMEM,
                           "%s: needs %zu bytes (%.1f MiB) in memory, more than the memory budget of %zu bytes "
                           "(%.1f MiB)",
                           what, need, (double)need / 1048576.0, budget, (double)budget / 1048576.0);
    return HPK_OK;
}

int data_path_join(char *buf, size_t cap, const char *dir, const char *name, hpk_err *err)
{
    int k = snprintf(buf, cap, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= cap)
        return hpk_err_set(err, HPK_EINPUT, "%s/%s: path too long", dir, name);
    return HPK_OK;
}

void data_scratch_free(data_scratch *s)
{
    if (!s)
        return;
    free(s->file);
    free(s->pix);
    memset(s, 0, sizeof *s);
}

int data_scratch_pix(data_scratch *s, size_t n, hpk_err *err)
{
    if (n <= s->pix_cap)
        return HPK_OK;
    free(s->pix);
    s->pix = malloc(n);
    s->pix_cap = s->pix ? n : 0;
    if (!s->pix)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory (%zu bytes for decoded pixels)", n);
    return HPK_OK;
}

int data_read_file(const char *path, size_t max, data_scratch *s, size_t *n, hpk_err *err)
{
    /* O_NONBLOCK: a FIFO swapped in after the listing must not hang a worker; regular files ignore it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return hpk_err_set(err, HPK_EINPUT, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        close(fd);
        return hpk_err_set(err, HPK_EINPUT, "%s: file of %lld bytes is larger than the limit of %zu bytes", path,
                           (long long)st.st_size, max);
    }
    size_t size = (size_t)st.st_size;
    if (size + 1 > s->file_cap) {
        free(s->file);
        s->file = malloc(size + 1);
        s->file_cap = s->file ? size + 1 : 0;
        if (!s->file) {
            close(fd);
            return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory (%zu bytes)", path, size);
        }
    }
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fd, s->file + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    int e = errno;
    close(fd);
    if (got != size)
        return hpk_err_set(err, HPK_EINPUT, "%s: read %zu of %zu bytes%s%s", path, got, size, got < size ? ": " : "",
                           got < size ? strerror(e) : "");
    *n = size;
    return HPK_OK;
}

/* Strips a trailing ":train" or ":test" from s (in place); returns 1 for test. */
static int split_suffix(char *s)
{
    size_t n = strlen(s);
    if (n >= 6 && strcmp(s + n - 6, ":train") == 0) {
        s[n - 6] = 0;
        return 0;
    }
    if (n >= 5 && strcmp(s + n - 5, ":test") == 0) {
        s[n - 5] = 0;
        return 1;
    }
    return 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int data_dataset_open(data_dataset **out, const char *spec, size_t mem_budget, hpk_err *err)
{
    *out = NULL;
    if (!spec || !*spec)
        return hpk_err_set(err, HPK_EINPUT, "data: empty SPEC");
    data_dataset *ds = calloc(1, sizeof *ds);
    char *work = dup_str(spec);
    if (!ds || !work || !(ds->spec = dup_str(spec))) {
        free(work);
        if (ds)
            free(ds->spec);
        free(ds);
        return hpk_err_set(err, HPK_ENOMEM, "data: out of memory");
    }
    pthread_mutex_init(&ds->mu, NULL);
    atomic_init(&ds->nbad, 0);
    ds->info.spec = ds->spec;
    int rc;
    if (strncmp(work, "fashion-mnist", 13) == 0 && (work[13] == 0 || work[13] == ':')) {
        int test = split_suffix(work);
        if (work[13] != 0)
            rc = hpk_err_set(err, HPK_EINPUT, "%s: bad data SPEC (fashion-mnist[:train|:test])", spec);
        else
            rc = (ds->path = dup_str(FASHION_DIR)) ? data_idx_open(ds, FASHION_DIR, test, 1, mem_budget, err)
                                                    : hpk_err_set(err, HPK_ENOMEM, "data: out of memory");
    } else if (strncmp(work, "idx:", 4) == 0 || strncmp(work, "cifar10:", 8) == 0) {
        int is_idx = work[0] == 'i';
        int test = split_suffix(work);
        const char *dir = work + (is_idx ? 4 : 8);
        if (!*dir)
            rc = hpk_err_set(err, HPK_EINPUT, "%s: bad data SPEC (no folder)", spec);
        else if (!(ds->path = dup_str(dir)))
            rc = hpk_err_set(err, HPK_ENOMEM, "data: out of memory");
        else
            rc = is_idx ? data_idx_open(ds, dir, test, 0, mem_budget, err)
                        : data_cifar_open(ds, dir, test, mem_budget, err);
    } else if (strncmp(work, "folder:", 7) == 0) {
        const char *dir = work + 7;
        if (!*dir)
            rc = hpk_err_set(err, HPK_EINPUT, "%s: bad data SPEC (no folder)", spec);
        else if (!(ds->path = dup_str(dir)))
            rc = hpk_err_set(err, HPK_ENOMEM, "data: out of memory");
        else
            rc = data_folder_open(ds, dir, err);
    } else if (strncmp(work, "npy:", 4) == 0) {
        char *images = work + 4, *comma = strrchr(images, ',');
        if (!comma || comma == images || !comma[1]) {
            rc = hpk_err_set(err, HPK_EINPUT, "%s: bad data SPEC (npy:IMAGES.npy,LABELS.npy)", spec);
        } else {
            *comma = 0;
            rc = (ds->path = dup_str(images)) ? data_npy_open(ds, images, comma + 1, mem_budget, err)
                                              : hpk_err_set(err, HPK_ENOMEM, "data: out of memory");
        }
    } else {
        rc = hpk_err_set(err, HPK_EINPUT,
                         "%s: unknown data SPEC (fashion-mnist, idx:DIR, cifar10:DIR, folder:DIR, "
                         "npy:IMAGES.npy,LABELS.npy)",
                         spec);
    }
    free(work);
    if (rc) {
        data_dataset_free(ds);
        return rc;
    }
    ds->info.spec = ds->spec;
    ds->info.path = ds->path;
    *out = ds;
    return HPK_OK;
}

void data_dataset_free(data_dataset *ds)
{
    if (!ds)
        return;
    free(ds->spec);
    free(ds->path);
    free(ds->u8);
    free(ds->f32);
    free(ds->labels);
    free(ds->root);
    free(ds->names);
    free(ds->name_off);
    if (ds->class_names)
        for (int k = 0; k < ds->info.classes; k++)
            free(ds->class_names[k]);
    free(ds->class_names);
    free(ds->bad);
    free(ds->skips);
    pthread_mutex_destroy(&ds->mu);
    free(ds);
}

const data_info *data_dataset_info(const data_dataset *ds) { return &ds->info; }

const char *data_dataset_class_name(const data_dataset *ds, int k, char *buf, size_t cap)
{
    if (k < 0 || k >= ds->info.classes)
        snprintf(buf, cap, "?");
    else if (ds->class_names)
        snprintf(buf, cap, "%s", ds->class_names[k]);
    else
        snprintf(buf, cap, "%d", k);
    return buf;
}

int data_dataset_get(const data_dataset *ds, size_t i, int want_short, data_scratch *s, data_image *img,
                     int64_t *label, hpk_err *err)
{
    const data_info *in = &ds->info;
    if (i >= in->count)
        return hpk_err_set(err, HPK_EINTERNAL, "%s: item %zu out of range (%zu items)", in->spec, i, in->count);
    *label = ds->labels[i];
    if (in->kind == DATA_FOLDER)
        return data_folder_get(ds, i, want_short, s, img, err);
    size_t per = (size_t)in->c * (size_t)in->h * (size_t)in->w; /* checked at open */
    img->c = in->c;
    img->h = in->h;
    img->w = in->w;
    img->is_float = in->is_float;
    img->u8 = in->is_float ? NULL : ds->u8 + i * per;
    img->f32 = in->is_float ? ds->f32 + i * per : NULL;
    return HPK_OK;
}

/* Copies src into dst, cut to cap - 1 bytes. */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void skip_record(data_dataset *ds, size_t i, const char *why)
{
    unsigned char expect = 0;
    if (!atomic_compare_exchange_strong(&ds->bad[i], &expect, 1))
        return; /* another thread recorded it */
    pthread_mutex_lock(&ds->mu); /* count and list change together: a report sees them agree */
    atomic_fetch_add(&ds->nbad, 1);
    if (ds->nskips < DATA_SKIPS_KEPT) {
        if (!ds->skips)
            ds->skips = calloc(DATA_SKIPS_KEPT, sizeof *ds->skips);
        if (ds->skips) {
            data_skip *k = &ds->skips[ds->nskips++];
            k->index = i;
            copy_str(k->path, sizeof k->path, ds->names + ds->name_off[i]);
            /* the reason without the leading "ROOT/REL: " the decoder put in */
            size_t lr = strlen(ds->root), lp = strlen(k->path);
            const char *r = why;
            if (strncmp(why, ds->root, lr) == 0 && why[lr] == '/' && strncmp(why + lr + 1, k->path, lp) == 0 &&
                strncmp(why + lr + 1 + lp, ": ", 2) == 0)
                r = why + lr + 1 + lp + 2;
            copy_str(k->why, sizeof k->why, r);
        }
    }
    pthread_mutex_unlock(&ds->mu);
}

int data_dataset_get_good(data_dataset *ds, size_t i, int want_short, data_scratch *s, data_image *img,
                          int64_t *label, size_t *used, hpk_err *err)
{
    size_t n = ds->info.count;
    for (size_t t = 0; t < n; t++) {
        size_t j = i + t < n ? i + t : i + t - n;
        if (ds->bad && atomic_load(&ds->bad[j]))
            continue;
        hpk_err e = {0};
        int rc = data_dataset_get(ds, j, want_short, s, img, label, &e);
        if (rc == HPK_OK) {
            if (used)
                *used = j;
            return HPK_OK;
        }
        if (rc != HPK_EINPUT || !ds->bad)
            return hpk_err_set(err, rc, "%s", e.msg);
        skip_record(ds, j, e.msg);
    }
    return hpk_err_set(err, HPK_EINPUT, "%s: no item decodes (%zu skipped)", ds->info.path,
                       atomic_load(&ds->nbad));
}

static int cmp_skip(const void *a, const void *b)
{
    const data_skip *x = a, *y = b;
    return x->index < y->index ? -1 : x->index > y->index;
}

size_t data_dataset_skipped(data_dataset *ds, data_skip *out, size_t max)
{
    pthread_mutex_lock(&ds->mu);
    size_t total = atomic_load(&ds->nbad);
    if (ds->skips && ds->nskips)
        qsort(ds->skips, ds->nskips, sizeof *ds->skips, cmp_skip);
    size_t k = ds->nskips < max ? ds->nskips : max;
    if (k)
        memcpy(out, ds->skips, k * sizeof *out);
    pthread_mutex_unlock(&ds->mu);
    return total;
}

size_t data_dataset_skipped_report(data_dataset *ds, char *buf, size_t cap, int max_names)
{
    if (cap)
        buf[0] = 0;
    if (max_names < 0)
        max_names = 0;
    data_skip *sk = max_names ? calloc((size_t)max_names, sizeof *sk) : NULL;
    size_t shown = 0, total = data_dataset_skipped(ds, sk, sk ? (size_t)max_names : 0);
    if (!total || !cap) {
        free(sk);
        return total;
    }
    shown = total < (size_t)max_names ? total : (size_t)max_names;
    if (!sk)
        shown = 0;
    if (shown > DATA_SKIPS_KEPT)
        shown = DATA_SKIPS_KEPT;
    size_t k = 0;
    int w = snprintf(buf, cap, "skipped %zu undecodable image%s in %s%s", total, total == 1 ? "" : "s",
                     ds->info.path, shown ? ": " : "");
    k = w < 0 ? 0 : (size_t)w;
    for (size_t j = 0; j < shown && k < cap; j++) {
        w = snprintf(buf + k, cap - k, "%s%s (%s)", j ? ", " : "", sk[j].path, sk[j].why);
        k += w < 0 ? 0 : (size_t)w;
    }
    if (shown < total && k < cap)
        snprintf(buf + k, cap - k, ", ...");
    free(sk);
    return total;
}

int data_probe_file(int kind, const char *path, hpk_err *err)
{
    switch (kind) {
    case DATA_PROBE_IDX: return data_idx_probe(path, err);
    case DATA_PROBE_CIFAR: return data_cifar_probe(path, err);
    case DATA_PROBE_NPY: return data_npy_probe(path, err);
    case DATA_PROBE_IMAGE: {
        data_scratch s = {0};
        data_image img;
        size_t n = 0;
        int rc = data_read_file(path, DATA_MAX_FILE, &s, &n, err);
        if (rc == HPK_OK)
            rc = data_image_decode(s.file, n, 0, &s, &img, path, err);
        data_scratch_free(&s);
        return rc;
    }
    default: return hpk_err_set(err, HPK_EUSAGE, "data_probe_file: unknown kind %d", kind);
    }
}
