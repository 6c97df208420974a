/* data_folder.c — ImageFolder datasets: one sub-folder per class (sorted names → labels), files decoded lazily. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_int.h"

#define MAX_CLASSES (1 << 20)

/* A growable list of NUL-terminated names kept in one buffer. */
typedef struct names {
    char *buf;
    size_t len, cap;
    size_t *off;
    size_t n, ncap;
} names;

static int names_add(names *l, const char *s)
{
    size_t k = strlen(s) + 1;
    if (l->len + k > l->cap) {
        size_t cap = l->cap ? l->cap : 4096;
        while (cap < l->len + k)
            if (__builtin_mul_overflow(cap, (size_t)2, &cap))
                return -1;
        char *b = realloc(l->buf, cap);
        if (!b)
            return -1;
        l->buf = b;
        l->cap = cap;
    }
    if (l->n == l->ncap) {
        size_t ncap = l->ncap ? l->ncap * 2 : 256;
        size_t *o = ncap > SIZE_MAX / sizeof *o ? NULL : realloc(l->off, ncap * sizeof *o);
        if (!o)
            return -1;
        l->off = o;
        l->ncap = ncap;
    }
    memcpy(l->buf + l->len, s, k);
    l->off[l->n++] = l->len;
    l->len += k;
    return 0;
}

static void names_free(names *l)
{
    free(l->buf);
    free(l->off);
    memset(l, 0, sizeof *l);
}

static const char *names_at(const names *l, size_t i) { return l->buf + l->off[i]; }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Lists the entries of dir that are directories (want_dir) or regular files, skipping hidden ones, sorted
 * by byte order (Python's sorted(), as torchvision). */
static int list_dir(const char *dir, int want_dir, names *out, hpk_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return hpk_err_set(err, HPK_EINPUT, "%s: cannot open folder: %s", dir, strerror(errno));
    int rc = HPK_OK;
    char path[4096];
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int is_dir, is_reg;
#ifdef DT_DIR
        if (e->d_type != DT_UNKNOWN && e->d_type != DT_LNK) {
            is_dir = e->d_type == DT_DIR;
            is_reg = e->d_type == DT_REG;
        } else
#endif
        {
            struct stat st;
            if (data_path_join(path, sizeof path, dir, e->d_name, NULL) || stat(path, &st))
                continue; /* a dangling link or an overlong name is not an item */
            is_dir = S_ISDIR(st.st_mode);
            is_reg = S_ISREG(st.st_mode);
        }
        if (want_dir ? !is_dir : !is_reg)
            continue;
        if (names_add(out, e->d_name)) {
            rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory listing the folder", dir);
            break;
        }
    }
    closedir(d);
    if (!rc && out->n > 1) {
        char **p = malloc(out->n * sizeof *p);
        if (!p)
            return hpk_err_set(err, HPK_ENOMEM, "%s: out of memory listing the folder", dir);
        for (size_t i = 0; i < out->n; i++)
            p[i] = out->buf + out->off[i];
        qsort(p, out->n, sizeof *p, cmp_str);
        for (size_t i = 0; i < out->n; i++)
            out->off[i] = (size_t)(p[i] - out->buf);
        free(p);
    }
    return rc;
}

int data_folder_open(data_dataset *ds, const char *dir, hpk_err *err)
{
    names classes = {0}, files = {0}, rel = {0};
    int64_t *labels = NULL;
    size_t nlab = 0, labcap = 0;
    int rc = list_dir(dir, 1, &classes, err);
    if (rc)
        goto done;
    if (classes.n == 0) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: no class sub-folders (folder:DIR wants DIR/CLASS/IMAGE files)", dir);
        goto done;
    }
    if (classes.n > MAX_CLASSES) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: %zu class folders is more than %d", dir, classes.n, MAX_CLASSES);
        goto done;
    }
    for (size_t k = 0; k < classes.n; k++) {
        char sub[4096], r[8192];
        if ((rc = data_path_join(sub, sizeof sub, dir, names_at(&classes, k), err)))
            goto done;
        names_free(&files);
        if ((rc = list_dir(sub, 0, &files, err)))
            goto done;
        for (size_t j = 0; j < files.n; j++) {
            snprintf(r, sizeof r, "%s/%s", names_at(&classes, k), names_at(&files, j));
            if (names_add(&rel, r)) {
                rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory listing the folder", dir);
                goto done;
            }
            if (nlab == labcap) {
                size_t nc = labcap ? labcap * 2 : 1024;
                int64_t *q = realloc(labels, nc * sizeof *q);
                if (!q) {
                    rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory listing the folder", dir);
                    goto done;
                }
                labels = q;
                labcap = nc;
            }
            labels[nlab++] = (int64_t)k;
        }
    }
    if (rel.n == 0) {
        rc = hpk_err_set(err, HPK_EINPUT, "%s: no files in the class folders", dir);
        goto done;
    }
    ds->class_names = calloc(classes.n, sizeof *ds->class_names);
    ds->bad = malloc(rel.n * sizeof *ds->bad);
    ds->root = malloc(strlen(dir) + 1);
    if (!ds->class_names || !ds->bad || !ds->root) {
        rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", dir);
        goto done;
    }
    strcpy(ds->root, dir);
    ds->info.classes = (int)classes.n; /* before anything can fail: data_dataset_free walks class_names */
    for (size_t k = 0; k < classes.n; k++) {
        const char *s = names_at(&classes, k);
        if (!(ds->class_names[k] = malloc(strlen(s) + 1))) {
            rc = hpk_err_set(err, HPK_ENOMEM, "%s: out of memory", dir);
            goto done;
        }
        strcpy(ds->class_names[k], s);
    }
    for (size_t i = 0; i < rel.n; i++)
        atomic_init(&ds->bad[i], 0);
    ds->info.mem_bytes = rel.len + rel.n * (sizeof(size_t) + sizeof(int64_t) + 1) + strlen(dir);
    ds->names = rel.buf;
    ds->name_off = rel.off;
    memset(&rel, 0, sizeof rel);
    ds->labels = labels;
    labels = NULL;
    ds->info.kind = DATA_FOLDER;
    ds->info.preset = DATA_PRESET_IMAGENET;
    ds->info.count = nlab;
    ds->info.c = 3;
    ds->info.h = ds->info.w = 0;
    ds->info.is_float = 0;
done:
    names_free(&classes);
    names_free(&files);
    names_free(&rel);
    free(labels);
    return rc;
}

int data_folder_get(const data_dataset *ds, size_t i, int want_short, data_scratch *s, data_image *img,
                    hpk_err *err)
{
    char path[8192];
    size_t n = 0;
    int rc = data_path_join(path, sizeof path, ds->root, ds->names + ds->name_off[i], err);
    if (!rc)
        rc = data_read_file(path, DATA_MAX_FILE, s, &n, err);
    if (!rc)
        rc = data_image_decode(s->file, n, want_short, s, img, path, err);
    return rc;
}
