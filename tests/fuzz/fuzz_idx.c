/* fuzz_idx.c — fuzz target: IDX files (MNIST/Fashion-MNIST layout, plain or gzip) through data_probe_file and
 * data_dataset_open("idx:DIR").
 *
 * Input: one IDX file, or an images file and a labels file separated by the marker "IDXSPLIT" (the dictionary
 * tests/fuzz/dict/idx.dict has it). Every part is probed as a file; a pair is also opened as a dataset
 * (train-images-idx3-ubyte + train-labels-idx1-ubyte in the scratch folder) whose items are then read.
 * Invariants: errors are one line naming the file or folder; an accepted dataset has items whose pixels and labels
 * are all readable and labels < classes; nothing leaks (LeakSanitizer in the sanitizer builds). */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part parts[2];
    int n = fuzz_split(data, size, "IDXSPLIT", parts, 2);
    if (n == 1) {
        fuzz_probe(DATA_PROBE_IDX, "one-idx-ubyte", data, size);
        return 0;
    }
    fuzz_probe(DATA_PROBE_IDX, "train-images-idx3-ubyte", parts[0].p, parts[0].n);
    fuzz_probe(DATA_PROBE_IDX, "train-labels-idx1-ubyte", parts[1].p, parts[1].n);
    char spec[400];
    snprintf(spec, sizeof spec, "idx:%s", fuzz_dir());
    fuzz_dataset_open(spec, DATA_IDX);
    return 0;
}
