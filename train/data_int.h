/* data_int.h — internals shared by the data_*.c files: the dataset record, readers, the skip record, helpers. */
#ifndef HPK_DATA_INT_H
#define HPK_DATA_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "data.h"

/* Invariants: everything but the skip record is written by the reader at open and read-only afterwards, so any
 * number of threads may call data_dataset_get. The skip record is a per-item atomic flag (set once, never
 * cleared) plus a mutex-protected list of reasons. */
struct data_dataset {
    data_info info;
    char *spec;
    char *path;
    /* in-memory data (IDX, CIFAR-10, npy) */
    uint8_t *u8;     /* count × h × w × c */
    float *f32;      /* count × c × h × w */
    int64_t *labels; /* count */
    /* folder: */
    char *root;         /* the folder */
    char *names;        /* "class/file\0..." */
    size_t *name_off;   /* count offsets into names */
    char **class_names; /* classes */
    /* the skip record */
    atomic_uchar *bad; /* count flags (folder: only) */
    atomic_size_t nbad;
    pthread_mutex_t mu;
    data_skip *skips; /* the first DATA_SKIPS_KEPT skipped items, in the order met */
    size_t nskips;
};
#define DATA_SKIPS_KEPT 256

/* readers: fill ds->info (but spec/path), the data and labels */
int data_idx_open(data_dataset *ds, const char *dir, int test, int fashion, size_t budget, hpk_err *err);
int data_cifar_open(data_dataset *ds, const char *dir, int test, size_t budget, hpk_err *err);
int data_npy_open(data_dataset *ds, const char *images, const char *labels, size_t budget, hpk_err *err);
int data_folder_open(data_dataset *ds, const char *dir, hpk_err *err);
/* reads and decodes folder item i */
int data_folder_get(const data_dataset *ds, size_t i, int want_short, data_scratch *s, data_image *img,
                    hpk_err *err);

/* probes */
int data_idx_probe(const char *path, hpk_err *err);
int data_cifar_probe(const char *path, hpk_err *err);
int data_npy_probe(const char *path, hpk_err *err);

/* HPK_ENOMEM with a message if need > budget (budget 0 = unlimited). */
int data_budget_check(size_t need, size_t budget, const char *what, hpk_err *err);
/* Reads a whole file into s->file (at most max bytes); *n receives its size. */
int data_read_file(const char *path, size_t max, data_scratch *s, size_t *n, hpk_err *err);
/* Ensures s->pix holds at least n bytes. */
int data_scratch_pix(data_scratch *s, size_t n, hpk_err *err);
/* Joins dir and name into buf; HPK_EINPUT if it does not fit. */
int data_path_join(char *buf, size_t cap, const char *dir, const char *name, hpk_err *err);

#endif
