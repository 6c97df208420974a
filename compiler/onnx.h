/* onnx.h — ONNX import (protobuf-c, hostile-input hardened) and export of hpk's IR. */
#ifndef HPK_ONNX_H
#define HPK_ONNX_H

#include "ir.h"

typedef struct onnx_limits {
    size_t max_file_bytes;     /* 0: default (4 GiB) */
    int max_nesting;           /* protobuf message nesting bound; 0: default (64) */
    size_t max_tensor_bytes;   /* one initializer's payload; 0: default (2 GiB) */
    size_t max_decoded_bytes;  /* protobuf-c's estimated unpacked size; 0: default (256 MiB + 32 x file size) */
} onnx_limits;

/* Loads an ONNX model file: bounded wire-format scan, protobuf-c unpack, import into the IR (Constant nodes
 * become initializers, external data only from inside the model's folder), then ir_verify. Every failure
 * returns a status with a one-line reason naming the file and the node or tensor. alloc may be {0}. */
int onnx_load(const char *path, hpk_alloc alloc, const onnx_limits *lim, ir_graph **out, hpk_err *err);
/* The same from memory; base_dir is the folder external data is resolved against (NULL: external data is
 * refused); name is used in messages. */
int onnx_load_buffer(const void *buf, size_t n, const char *base_dir, const char *name, hpk_alloc alloc,
                     const onnx_limits *lim, ir_graph **out, hpk_err *err);

/* Checks that node n can be written at `opset` of the default domain: the op exists there (HardSwish needs
 * 14) and its version-dependent arguments have that opset's form (Clip bounds: attributes before 11, inputs
 * from 11; Squeeze/Unsqueeze axes: attribute before 13, input from 13; Dropout ratio: attribute before 12,
 * inputs from 12; ReduceMean axes: attribute up to 17; Reshape allowzero and BatchNormalization
 * training_mode from 14). The importer applies it to every node, the exporter before writing. */
int onnx_node_check_opset(const ir_graph *g, const ir_node *n, int64_t opset, hpk_err *err);

/* Exports the graph at g->opset (13 for graphs hpk built) with names preserved. Internal (ai.hpk) ops are an
 * error. The file is written to a temporary name in the same folder and renamed into place. */
int onnx_save(ir_graph *g, const char *path, hpk_err *err);
/* Serializes to a malloc'd buffer (free with free()). */
int onnx_save_buffer(ir_graph *g, void **buf, size_t *n, hpk_err *err);

#endif
