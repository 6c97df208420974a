/* data.h — the trainer's data: datasets (IDX, CIFAR-10, ImageFolder, .npy pairs), augmentation, a threaded loader. */
#ifndef HPK_DATA_H
#define HPK_DATA_H

/* How the pieces fit:
 *
 *   data_dataset_open("cifar10:DIR:train")  a random-access source of (image, label) items, validated at open.
 *       IDX, CIFAR-10 and .npy data are read into memory (after checking their size against a memory budget);
 *       folder: datasets are listed at open and decoded lazily, item by item, by whoever calls get().
 *   data_xform_plan / data_xform_apply      one item → one float32 C×S×S sample: resize of the shorter side,
 *                                            zero padding, random or center crop, horizontal flip, to [0, 1],
 *                                            per-channel normalization — torchvision's transforms in one pass.
 *   data_loader_create / data_loader_next   worker threads that fill a ring of prefetched NCHW batches.
 *
 * Determinism: an epoch's order is a Fisher-Yates shuffle drawn from (seed, epoch); each item's augmentation is
 * drawn from (seed, epoch, item index). A batch is a pure function of (dataset, options, epoch, batch index), so
 * batches are bit-identical whatever the number of worker threads, and a run can resume at any (epoch, batch).
 *
 * Hostile files: every size in a header is checked against the file and with checked arithmetic before anything
 * is allocated; a data file that does not parse is an error (a status and a one-line message naming the file).
 * A folder image that does not decode (corrupt, empty, truncated, absurd dimensions, not an image) is not an
 * error: it is skipped — replaced by the next good item in file order —, counted and reported. */

#include <stddef.h>
#include <stdint.h>

#include "hpk.h"
#include "ir_rng.h"

/* Decoded images larger than this are refused from their header, before any pixel memory is allocated. */
#define DATA_MAX_SIDE 16384
#define DATA_MAX_PIXELS ((size_t)64 << 20) /* 64 Mpixel */
#define DATA_MAX_FILE ((size_t)256 << 20)  /* bytes of one image file */

enum data_kind {
    DATA_IDX = 1,     /* fashion-mnist, idx:DIR */
    DATA_CIFAR10 = 2, /* cifar10:DIR */
    DATA_FOLDER = 3,  /* folder:DIR */
    DATA_NPY = 4      /* npy:IMAGES.npy,LABELS.npy */
};

/* Which normalization and geometry defaults suit a dataset (data_loader_opts_default). */
enum data_preset {
    DATA_PRESET_FASHION = 1, /* IDX: mean 0.2860, std 0.3530, 28 px padded to 32 */
    DATA_PRESET_CIFAR = 2,   /* CIFAR-10 mean/std, pad 4 + random crop 32 */
    DATA_PRESET_IMAGENET = 3,/* ImageNet mean/std, resize 256 + crop 224 (folder:, uint8 npy) */
    DATA_PRESET_RAW = 4      /* float npy: fed as they are, no normalization */
};

typedef struct data_info {
    int kind;         /* enum data_kind */
    int preset;       /* enum data_preset */
    const char *spec; /* the SPEC it was opened from */
    const char *path; /* the folder or first file, for messages */
    size_t count;     /* items */
    int classes;      /* labels are in [0, classes) */
    int c, h, w;      /* native geometry of every item; h = w = 0 when it varies (folder:, where c = 3) */
    int is_float;     /* items are float32 C×H×W, fed as they are (float npy); otherwise uint8 H×W×C */
    size_t mem_bytes; /* bytes the dataset holds in memory */
} data_info;

typedef struct data_dataset data_dataset;

/* One decoded item. Points into the dataset (in-memory data) or into a data_scratch (decoded files). */
typedef struct data_image {
    int c, h, w;
    int is_float;
    const uint8_t *u8; /* h × w × c, c = 1 or 3 */
    const float *f32;  /* c × h × w */
} data_image;

/* Reusable per-thread buffers for reading and decoding files; zero-initialize, release with data_scratch_free. */
typedef struct data_scratch {
    uint8_t *file;
    size_t file_cap;
    uint8_t *pix;
    size_t pix_cap;
} data_scratch;
void data_scratch_free(data_scratch *s);

/* ---- datasets --------------------------------------------------------------------------------------------------
 * spec: fashion-mnist | idx:DIR | cifar10:DIR, each with an optional :train (default) or :test;
 *       folder:DIR | npy:IMAGES.npy,LABELS.npy.
 * mem_budget: bytes the in-memory data may take, 0 = unlimited; a dataset needing more is refused (HPK_ENOMEM)
 * before anything large is allocated. */
int data_dataset_open(data_dataset **out, const char *spec, size_t mem_budget, hpk_err *err);
void data_dataset_free(data_dataset *ds);
const data_info *data_dataset_info(const data_dataset *ds);
/* The class name of label k (the folder name for folder:, the decimal label otherwise), k in [0, classes). */
const char *data_dataset_class_name(const data_dataset *ds, int k, char *buf, size_t cap);

/* Item i (< count): its image and label. Thread-safe (each thread its own scratch). For folder: the file is read
 * and decoded here; want_short > 0 lets a JPEG decode at 1/2, 1/4 or 1/8 scale as long as its shorter side stays
 * >= want_short. Returns HPK_EINPUT if the file does not decode (nothing is recorded), HPK_ENOMEM. */
int data_dataset_get(const data_dataset *ds, size_t i, int want_short, data_scratch *s, data_image *img,
                     int64_t *label, hpk_err *err);
/* Like get, but an item that does not decode is recorded as skipped and replaced by the next one that decodes
 * (i+1, i+2, ... wrapping around); *used (may be NULL) receives the index returned. Fails only if no item at all
 * decodes, or on HPK_ENOMEM. */
int data_dataset_get_good(data_dataset *ds, size_t i, int want_short, data_scratch *s, data_image *img,
                          int64_t *label, size_t *used, hpk_err *err);

/* Skipped items: returns how many distinct files were skipped so far and copies up to max of them into out, in
 * file order (the first 256 met are kept with their reasons; the count goes on). Thread-safe. */
typedef struct data_skip {
    size_t index;
    char path[256]; /* relative to the dataset folder */
    char why[160];  /* the decoder's reason */
} data_skip;
size_t data_dataset_skipped(data_dataset *ds, data_skip *out, size_t max);
/* "skipped N undecodable images in DIR: a/x.jpg (truncated), b/y.png (...), ..." naming at most max_names files;
 * "" when nothing was skipped. Returns N. */
size_t data_dataset_skipped_report(data_dataset *ds, char *buf, size_t cap, int max_names);

/* ---- per-file readers, for fuzzing and tests ----------------------------------------------------------------- */
enum data_probe_kind {
    DATA_PROBE_IDX = 1,   /* one IDX file (images or labels, .gz or not) */
    DATA_PROBE_CIFAR = 2, /* one CIFAR-10 batch file */
    DATA_PROBE_NPY = 3,   /* one .npy file as images or labels */
    DATA_PROBE_IMAGE = 4  /* one JPEG/PNG file */
};
/* Parses and validates the file the way a dataset would; HPK_OK or an error status with a message. */
int data_probe_file(int kind, const char *path, hpk_err *err);
/* Decodes a JPEG or PNG held in memory (format by magic bytes) into s->pix as uint8 H×W×C, C = 1 or 3.
 * Refuses absurd dimensions (DATA_MAX_SIDE, DATA_MAX_PIXELS) before allocating. `name` is used in messages. */
int data_image_decode(const uint8_t *bytes, size_t n, int want_short, data_scratch *s, data_image *img,
                      const char *name, hpk_err *err);

/* ---- the loader ------------------------------------------------------------------------------------------------ */
typedef struct data_loader_opts {
    int batch;          /* samples per batch */
    int size;           /* output S × S; for float npy: 0 or the native size (they are fed as they are) */
    int channels;       /* output channels, 1 or 3 (gray → replicated, RGB → luminance); 0: the dataset's */
    int resize;         /* shorter side resized to R (bilinear) first; 0: no resize */
    int pad;            /* augment: zeros on each side before the random crop */
    int augment;        /* 1: random crop + flip (training); 0: resize + center crop or pad (evaluation) */
    int flip;           /* with augment: horizontal flip with p = 0.5 */
    int shuffle;        /* 0: items in file order */
    int drop_last;      /* 1: an epoch has floor(count / batch) batches; 0: the last one may be partial */
    long epochs;        /* the loader ends after epoch `epochs` - 1; 0: endless */
    long start_epoch;   /* resume: the first batch produced is (start_epoch, start_batch) */
    long start_batch;
    int threads;        /* worker threads; 0: batches are made in the caller's thread */
    int prefetch;       /* batches in the ring; 0: 2 × threads, at least 2 */
    uint64_t seed;
    float mean[3], std[3]; /* per output channel, in [0, 1] units */
    size_t mem_budget;  /* bytes for the dataset plus the ring; 0 = unlimited */
} data_loader_opts;

/* The paper's recipe for ds: train = 1 (augment, shuffle, drop_last) or 0 (evaluation preprocessing).
 *   fashion-mnist/idx: 32 px (28 padded by 2), mean 0.2860 std 0.3530, 1 channel
 *   cifar10: pad 4 + random crop 32 + flip, mean (0.4914, 0.4822, 0.4465) std (0.2470, 0.2435, 0.2616)
 *   folder:, uint8 npy: resize 256 + random crop 224 + flip (eval: resize 256 + center crop 224), ImageNet mean/std;
 *     uint8 npy keeps its own size (no resize) when it is at most 64 px
 *   float npy: fed as they are (mean 0, std 1, no augmentation). */
void data_loader_opts_default(data_loader_opts *o, const data_dataset *ds, int train);

/* Sets o->channels = to for a dataset of `from` channels and adapts the normalization: 3 → 1 uses the luminance
 * weights of mean/std, 1 → 3 replicates channel 0. */
void data_loader_opts_channels(data_loader_opts *o, int from, int to);

typedef struct data_batch {
    const float *x;   /* batch × c × h × w float32 (NCHW); samples past n are zeros */
    const int64_t *y; /* labels; past n: 0 */
    int n;            /* samples filled */
    int c, h, w;
    long epoch, index; /* the batch's epoch and index within it */
} data_batch;

typedef struct data_loader data_loader;

/* ds must outlive the loader. Validates o (sizes, channels, mean/std, resume position, memory budget). */
int data_loader_create(data_loader **out, data_dataset *ds, const data_loader_opts *o, hpk_err *err);
/* The next batch: returns the number of samples filled (>= 1), 0 once at the end of each epoch (the next call
 * starts the next epoch, unless opts.epochs were produced: then 0 for good), or -status on error (err set).
 * b stays valid until the next call or data_loader_free. Blocks only if the batch is not ready yet. */
int data_loader_next(data_loader *L, data_batch *b, hpk_err *err);
long data_loader_batches_per_epoch(const data_loader *L);
/* Output geometry of a sample. */
void data_loader_geometry(const data_loader *L, int *c, int *h, int *w);
/* Stops the workers (mid-epoch is fine), joins them and frees everything. NULL is a no-op. */
void data_loader_free(data_loader *L);

/* ---- the transform ---------------------------------------------------------------------------------------------
 * One image → one float32 out_c × S × S sample, in torchvision's order: Resize(R) (shorter side, bilinear,
 * align_corners = false, no antialias) → Pad(P) → RandomCrop(S) or CenterCrop(S) (an image smaller than S is
 * placed at a random or centered offset in a zero field) → RandomHorizontalFlip → ToTensor → Normalize.
 * Only the S × S output pixels are computed. */
typedef struct data_xform {
    int in_c, in_h, in_w; /* the image (uint8 HWC) */
    int out_c, size;
    int rh, rw;           /* image size after the resize */
    int pad;
    int oy, ox;           /* output (0, 0) is at (oy, ox) in the padded, resized image; negative: placed inside */
    int flip;
    float scale[3], bias[3]; /* out = v * scale + bias for v in [0, 255]: scale = 1/(255 std), bias = -mean/std */
} data_xform;

/* Plans the transform of an in_h × in_w × in_c image. o->augment draws the crop and flip from r (may be NULL when
 * !o->augment). Returns HPK_EINPUT for an impossible geometry (zero-sized image). */
int data_xform_plan(data_xform *x, const data_loader_opts *o, int out_c, int size, int in_c, int in_h, int in_w,
                    ir_rng *r);
/* Applies x to img (uint8 HWC, the geometry planned) into out (out_c × size × size floats). */
void data_xform_apply(const data_xform *x, const data_image *img, float *out);

#endif
