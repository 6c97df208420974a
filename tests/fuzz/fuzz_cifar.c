/* fuzz_cifar.c — fuzz target: CIFAR-10 binary batch files through data_probe_file and data_dataset_open.
 *
 * Input: one batch file (records of 1 label byte + 3072 pixel bytes), opened as "cifar10:DIR:test"
 * (test_batch.bin); or up to five parts separated by the marker "CIFSPLIT", written as data_batch_1.bin ... and
 * opened as "cifar10:DIR" (the training split needs all five: fewer parts is an error naming the missing file).
 * Invariants: errors are one line naming the file or folder; an accepted dataset's items are readable, their
 * labels < 10; nothing leaks. */
#include "fuzz_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part parts[5];
    int n = fuzz_split(data, size, "CIFSPLIT", parts, 5);
    char spec[400];
    if (n == 1) {
        fuzz_probe(DATA_PROBE_CIFAR, "test_batch.bin", data, size);
        snprintf(spec, sizeof spec, "cifar10:%s:test", fuzz_dir());
        fuzz_dataset_open(spec, DATA_CIFAR10);
        return 0;
    }
    for (int k = 0; k < 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", k + 1);
        if (k < n)
            fuzz_probe(DATA_PROBE_CIFAR, name, parts[k].p, parts[k].n);
        else
            fuzz_file_remove(name);
    }
    snprintf(spec, sizeof spec, "cifar10:%s", fuzz_dir());
    fuzz_dataset_open(spec, DATA_CIFAR10);
    return 0;
}
