/* onnx_wire.h — bounded, iterative pre-scan of protobuf wire bytes before protobuf-c unpacks them (internal). */
#ifndef HPK_ONNX_WIRE_H
#define HPK_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "hpk.h"

/* Hard ceiling on the nesting bound: protobuf-c recurses once per level when it unpacks and frees. */
#define ONNX_WIRE_MAX_DEPTH_CEILING 1000

typedef struct onnx_wire_stats {
    size_t messages;      /* sub-messages seen (including the root) */
    size_t decoded_bytes; /* estimate of what protobuf-c will allocate to unpack the buffer */
    int depth;            /* deepest nesting seen (the root is depth 1) */
} onnx_wire_stats;

/* Walks buf as a `root` message without recursion, following sub-message fields through protobuf-c's own
 * descriptors, and rejects anything protobuf-c would have to trust: tags with field number 0 or out of range,
 * wire types 3/4/6/7 (groups, invalid), varints longer than 10 bytes, length prefixes longer than 5 bytes or
 * above INT_MAX or past the end of the enclosing message, wire types that disagree with the schema, malformed
 * packed arrays, a singular sub-message field given twice in one message (protobuf-c merges repeats at
 * quadratic cost), nesting deeper than max_depth (clamped to ONNX_WIRE_MAX_DEPTH_CEILING), and an estimated
 * decoded size above max_decoded. Errors (HPK_EINPUT, or HPK_ENOMEM for the stack or the size budget) carry a
 * one-line message "malformed protobuf at byte N: ..." without a file name; the caller prefixes it.
 * The work stack is allocated through alloc. stats may be NULL. */
int onnx_wire_scan(const uint8_t *buf, size_t n, const ProtobufCMessageDescriptor *root, int max_depth,
                   size_t max_decoded, hpk_alloc alloc, onnx_wire_stats *stats, hpk_err *err);

#endif
