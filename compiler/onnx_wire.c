/* onnx_wire.c — iterative protobuf wire-format scanner: bounds nesting, lengths and decoded size before unpack.
 *
 * protobuf-c unpacks sub-messages by recursion, with no depth limit, and trusts several things about the bytes
 * (see onnx_wire.h). This scanner walks the same bytes first with an explicit stack of (descriptor, end)
 * frames, using protobuf-c's generated descriptors so it classifies every field exactly as the unpacker will:
 * a length-delimited field is a sub-message only if the schema says so; unknown fields are skipped (protobuf-c
 * keeps them as opaque bytes and never recurses into them). Every step advances the position or pops a frame,
 * so the scan is linear in the input. It also refuses a singular sub-message field given twice in one message
 * (protobuf-c would merge the copies, at quadratic cost). */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "onnx_wire.h"

typedef struct wire_frame {
    const ProtobufCMessageDescriptor *desc;
    size_t end;
    uint64_t seen; /* singular sub-message fields already present, by field index (the first 64 fields) */
} wire_frame;

/* What protobuf-c allocates per block on top of the payload: our size header plus typical malloc overhead. */
#define BLOCK_OVERHEAD 32
/* protobuf-c's ScannedMember record, one per field occurrence while its message is being unpacked. */
#define SCANNED_MEMBER 32

enum { VARINT_OK = 0, VARINT_TRUNCATED = 1, VARINT_TOO_LONG = 2 };

/* Reads a varint of at most maxlen bytes from [*pos, end). */
static int read_varint(const uint8_t *buf, size_t *pos, size_t end, unsigned maxlen, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < maxlen; i++) {
        if (*pos + i >= end)
            return VARINT_TRUNCATED;
        uint8_t b = buf[*pos + i];
        if (7 * i < 64)
            v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *pos += i + 1;
            *out = v;
            return VARINT_OK;
        }
    }
    return VARINT_TOO_LONG;
}

/* The wire type a field of this type is written with when not packed. */
static int wire_type_of(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return 5;
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 1;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE: return 2;
    default: return 0; /* int32/64, sint32/64, uint32/64, bool, enum */
    }
}

/* Size of one element of a repeated field in protobuf-c's unpacked arrays. */
static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_UINT64: return 8;
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
    default: return 4;
    }
}

static const char *wire_name(int wt)
{
    static const char *const names[8] = {"varint", "64-bit", "length-delimited", "group start",
                                         "group end", "32-bit", "invalid (6)", "invalid (7)"};
    return names[wt & 7];
}

/* Names a field for messages: "onnx.NodeProto.name" or "unknown field 99 of onnx.NodeProto". */
static const char *field_label(const ProtobufCMessageDescriptor *d, const ProtobufCFieldDescriptor *fd,
                               uint64_t fnum, char *buf, size_t n)
{
    if (fd)
        snprintf(buf, n, "%s.%s", d->name, fd->name);
    else
        snprintf(buf, n, "unknown field %llu of %s", (unsigned long long)fnum, d->name);
    return buf;
}

int onnx_wire_scan(const uint8_t *buf, size_t n, const ProtobufCMessageDescriptor *root, int max_depth,
                   size_t max_decoded, hpk_alloc alloc, onnx_wire_stats *stats, hpk_err *err)
{
    onnx_wire_stats st = {1, root->sizeof_message + BLOCK_OVERHEAD, 1};
    char lbl[160];
    int rc = HPK_OK;
    if (!alloc.fn)
        alloc = hpk_alloc_default();
    if (max_depth < 1)
        max_depth = 1;
    if (max_depth > ONNX_WIRE_MAX_DEPTH_CEILING)
        max_depth = ONNX_WIRE_MAX_DEPTH_CEILING;
    wire_frame *stack = alloc.fn(alloc.ud, NULL, 0, sizeof(wire_frame) * (size_t)max_depth);
    if (!stack)
        return hpk_err_set(err, HPK_ENOMEM, "out of memory for the protobuf scan stack");
    int depth = 1;
    size_t pos = 0;
    stack[0].desc = root;
    stack[0].end = n;
    stack[0].seen = 0;

#define FAIL(code, ...)                                                                                     \
    do {                                                                                                    \
        rc = hpk_err_set(err, code, __VA_ARGS__);                                                           \
        goto done;                                                                                          \
    } while (0)
#define ADD(bytes)                                                                                          \
    do {                                                                                                    \
        if (__builtin_add_overflow(st.decoded_bytes, (size_t)(bytes), &st.decoded_bytes) ||                 \
            st.decoded_bytes > max_decoded)                                                                 \
            FAIL(HPK_ENOMEM, "protobuf at byte %zu: decoding would need more than %zu bytes of memory "     \
                 "(the budget for a %zu-byte file)", pos, max_decoded, n);                                  \
    } while (0)

    for (;;) {
        wire_frame *f = &stack[depth - 1];
        if (pos == f->end) {
            if (depth == 1)
                break;
            depth--;
            continue;
        }
        size_t at = pos;
        uint64_t tag, v;
        int r = read_varint(buf, &pos, f->end, 5, &tag);
        if (r == VARINT_TRUNCATED)
            FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: a field tag runs past the end of its %s message "
                 "(truncated file?)", at, f->desc->name);
        if (r == VARINT_TOO_LONG)
            FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: a field tag in %s is longer than 5 bytes", at,
                 f->desc->name);
        int wt = (int)(tag & 7);
        uint64_t fnum = tag >> 3;
        if (fnum == 0 || tag > UINT32_MAX)
            FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: field number %llu in %s is invalid", at,
                 (unsigned long long)fnum, f->desc->name);
        const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field(f->desc, (unsigned)fnum);
        bool packed = false;
        if (fd && wt != wire_type_of(fd->type)) {
            packed = wt == 2 && fd->label == PROTOBUF_C_LABEL_REPEATED && wire_type_of(fd->type) != 2;
            if (!packed)
                FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: %s has wire type %s, the schema says %s", at,
                     field_label(f->desc, fd, fnum, lbl, sizeof lbl), wire_name(wt),
                     wire_name(wire_type_of(fd->type)));
        }
        ADD(SCANNED_MEMBER);
        if (fd && fd->label == PROTOBUF_C_LABEL_REPEATED && !packed)
            ADD(elem_size(fd->type));
        if (!fd)
            ADD(sizeof(ProtobufCMessageUnknownField) + BLOCK_OVERHEAD);
        size_t vstart = pos;
        switch (wt) {
        case 0:
            r = read_varint(buf, &pos, f->end, 10, &v);
            if (r == VARINT_TRUNCATED)
                FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: the varint of %s runs past the end of its "
                     "message (truncated file?)", vstart, field_label(f->desc, fd, fnum, lbl, sizeof lbl));
            if (r == VARINT_TOO_LONG)
                FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: the varint of %s is longer than 10 bytes",
                     vstart, field_label(f->desc, fd, fnum, lbl, sizeof lbl));
            if (!fd)
                ADD(pos - vstart);
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if (f->end - pos < w)
                FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: the %zu-byte value of %s runs past the end of "
                     "its message (truncated file?)", vstart, w, field_label(f->desc, fd, fnum, lbl, sizeof lbl));
            pos += w;
            if (!fd)
                ADD(w);
            break;
        }
        case 2: {
            r = read_varint(buf, &pos, f->end, 5, &v);
            if (r == VARINT_TRUNCATED)
                FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: the length of %s runs past the end of its "
                     "message (truncated file?)", vstart, field_label(f->desc, fd, fnum, lbl, sizeof lbl));
            if (r == VARINT_TOO_LONG || v > INT_MAX)
                FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: %s declares a length above 2 GiB", vstart,
                     field_label(f->desc, fd, fnum, lbl, sizeof lbl));
            if (v > f->end - pos)
                FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: %s declares %llu bytes but only %zu remain in "
                     "its %s message (truncated or corrupt file)", vstart,
                     field_label(f->desc, fd, fnum, lbl, sizeof lbl), (unsigned long long)v, f->end - pos,
                     f->desc->name);
            size_t len = (size_t)v, body = pos;
            if (!fd) {
                ADD(len);
                pos += len;
            } else if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessageDescriptor *sub = fd->descriptor;
                size_t fi = (size_t)(fd - f->desc->fields);
                if (fd->label != PROTOBUF_C_LABEL_REPEATED && fi < 64) {
                    /* protobuf-c merges repeats of a singular sub-message, copying everything each time:
                     * quadratic in the number of repeats, and no ONNX writer emits them */
                    if (f->seen & ((uint64_t)1 << fi))
                        FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: %s appears twice in one message",
                             vstart, field_label(f->desc, fd, fnum, lbl, sizeof lbl));
                    f->seen |= (uint64_t)1 << fi;
                }
                if (depth >= max_depth)
                    FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: messages nest deeper than %d levels "
                         "(field %s)", vstart, max_depth, field_label(f->desc, fd, fnum, lbl, sizeof lbl));
                ADD(sub->sizeof_message + BLOCK_OVERHEAD);
                st.messages++;
                stack[depth].desc = sub;
                stack[depth].end = body + len;
                stack[depth].seen = 0;
                depth++;
                if (depth > st.depth)
                    st.depth = depth;
                /* pos stays at the body: the next iteration reads the sub-message's first field */
            } else if (fd->type == PROTOBUF_C_TYPE_STRING || fd->type == PROTOBUF_C_TYPE_BYTES) {
                ADD(len + 1 + BLOCK_OVERHEAD);
                pos += len;
            } else { /* a packed repeated scalar */
                size_t count = 0, end = body + len;
                int pwt = wire_type_of(fd->type);
                if (pwt == 0) {
                    while (pos < end) {
                        size_t e0 = pos;
                        r = read_varint(buf, &pos, end, 10, &v);
                        if (r != VARINT_OK)
                            FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: a packed value of %s is %s", e0,
                                 field_label(f->desc, fd, fnum, lbl, sizeof lbl),
                                 r == VARINT_TRUNCATED ? "cut off" : "longer than 10 bytes");
                        count++;
                    }
                    if (fd->type == PROTOBUF_C_TYPE_BOOL)
                        count = len; /* protobuf-c sizes bool arrays by bytes */
                } else {
                    size_t w = pwt == 1 ? 8 : 4;
                    if (len % w)
                        FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: packed %s has %zu bytes, not a multiple "
                             "of %zu", vstart, field_label(f->desc, fd, fnum, lbl, sizeof lbl), len, w);
                    count = len / w;
                    pos = end;
                }
                size_t bytes;
                if (__builtin_mul_overflow(count, elem_size(fd->type), &bytes))
                    bytes = SIZE_MAX;
                ADD(bytes);
            }
            break;
        }
        default:
            FAIL(HPK_EINPUT, "malformed protobuf at byte %zu: %s uses wire type %s, which is not supported", at,
                 field_label(f->desc, fd, fnum, lbl, sizeof lbl), wire_name(wt));
        }
    }
#undef ADD
#undef FAIL
done:
    alloc.fn(alloc.ud, stack, sizeof(wire_frame) * (size_t)max_depth, 0);
    if (stats)
        *stats = st;
    return rc;
}
