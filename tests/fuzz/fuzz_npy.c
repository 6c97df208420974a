/* fuzz_npy.c — fuzz target: .npy datasets (images and labels) through data_probe_file and
 * data_dataset_open("npy:IMAGES.npy,LABELS.npy").
 *
 * Input: one .npy file (probed as images or labels, by dtype), or an images file and a labels file separated by
 * the marker "NPYSPLIT": both are probed, then opened as a dataset whose items are read.
 * Invariants: errors are one line naming a file; an accepted dataset's items are readable (float images finite),
 * labels < classes; nothing leaks. */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part parts[2];
    int n = fuzz_split(data, size, "NPYSPLIT", parts, 2);
    if (n == 1) {
        fuzz_probe(DATA_PROBE_NPY, "one.npy", data, size);
        return 0;
    }
    fuzz_probe(DATA_PROBE_NPY, "images.npy", parts[0].p, parts[0].n);
    fuzz_probe(DATA_PROBE_NPY, "labels.npy", parts[1].p, parts[1].n);
    char spec[900];
    snprintf(spec, sizeof spec, "npy:%s/images.npy,%s/labels.npy", fuzz_dir(), fuzz_dir());
    fuzz_dataset_open(spec, DATA_NPY);
    return 0;
}
