/* fuzz_onnx_load.c — libFuzzer harness for the ONNX importer (onnx_load_buffer, then export of what loads).
 * Build by hand with clang (not part of the meson build), e.g. from the source root after `ninja -C build`:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iir -Icompiler -Ibuild tests/fuzz/fuzz_onnx_load.c \
 *     ir/ir_base.c ir/ir_graph.c ir/ir_ops.c ir/ir_infer.c ir/ir_verify.c ir/shape_*.c compiler/onnx_*.c \
 *     build/onnx.pb-c.c -lprotobuf-c -lm -o fuzz_onnx_load
 *   ./fuzz_onnx_load -max_len=65536 CORPUS_COPY tests/hostile/corpus
 * Any crash, sanitizer report, leak or a message that is not one line is a bug. */
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    ir_graph *g = NULL;
    hpk_err err = {0};
    onnx_limits lim = {0, 0, (size_t)64 << 20, (size_t)256 << 20};
    int rc = onnx_load_buffer(data, size, NULL, "fuzz.onnx", (hpk_alloc){0}, &lim, &g, &err);
    if (rc) {
        if (g || strncmp(err.msg, "fuzz.onnx: ", 11) != 0 || strchr(err.msg, '\n'))
            abort();
        return 0;
    }
    void *buf = NULL;
    size_t n = 0;
    if (onnx_save_buffer(g, &buf, &n, &err) != HPK_OK)
        abort(); /* what hpk imports, hpk must be able to export */
    {
        ir_graph *h = NULL;
        hpk_err e2 = {0};
        /* what hpk writes, hpk must read back */
        if (onnx_load_buffer(buf, n, NULL, "again.onnx", (hpk_alloc){0}, NULL, &h, &e2) != HPK_OK)
            abort();
        ir_graph_free(h);
    }
    free(buf);
    ir_graph_free(g);
    return 0;
}
