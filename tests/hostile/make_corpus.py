#!/usr/bin/python3
"""Generates the hostile-input corpus for hpk's ONNX importer: one file per case in corpus/, plus
corpus/MANIFEST.json saying, per file, whether it must load (status 0) or be rejected (status 1) and which
substrings the one-line error must contain (the node or tensor it names). Cases that need symlinks, hard
links or FIFOs name a "setup" that run_corpus.py builds in a temporary folder at test time (git stores no
hard links). Deterministic: rerunning gives the same bytes.

Run with Debian's interpreter (it has python3-onnx): /usr/bin/python3 tests/hostile/make_corpus.py [OUTDIR]"""
import copy, json, os, struct, sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    p = os.path.join(OUT, f)
    if os.path.isfile(p) or os.path.islink(p):
        os.unlink(p)
manifest = {}

W_SHAPE = (4, 3, 3, 3)
W = (np.arange(np.prod(W_SHAPE), dtype=np.float32) / 100.0 - 0.5).reshape(W_SHAPE)
B = np.linspace(-1, 1, 4).astype(np.float32)
FCW = (np.arange(40, dtype=np.float32) / 40.0).reshape(10, 4)
FCB = np.zeros(10, dtype=np.float32)
EXT = "ext_data.bin"  # conv.weight then fc.weight, raw little-endian float32


def base(opset=13, ir_version=8):
    """X[N,3,8,8] -> conv0 -> relu0 -> gap0 -> flat0 -> fc -> softmax -> probs[N,10]."""
    nodes = [
        helper.make_node("Conv", ["input_image", "conv.weight", "conv.bias"], ["c0"], name="conv0",
                         pads=[1, 1, 1, 1], strides=[1, 1], group=1),
        helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        helper.make_node("GlobalAveragePool", ["r0"], ["g0"], name="gap0"),
        helper.make_node("Flatten", ["g0"], ["f0"], name="flat0", axis=1),
        helper.make_node("Gemm", ["f0", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    inits = [numpy_helper.from_array(W, "conv.weight"), numpy_helper.from_array(B, "conv.bias"),
             numpy_helper.from_array(FCW, "fc.weight"), numpy_helper.from_array(FCB, "fc.bias")]
    g = helper.make_graph(nodes, "hostile_base",
                          [helper.make_tensor_value_info("input_image", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_corpus")
    m.ir_version = ir_version
    return m


def node(m, name):
    return next(n for n in m.graph.node if n.name == name)


def init(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


def attr(n, name):
    return next(a for a in n.attribute if a.name == name)


def write_bytes(fname, data, expect, setup=None):
    with open(os.path.join(OUT, fname), "wb") as f:
        f.write(data)
    manifest[fname] = {"status": 1 if expect is not None else 0, "expect": expect or [], "setup": setup}


def reject(fname, m, *expect, setup=None):
    write_bytes(fname, m.SerializeToString(), list(expect), setup)


def valid(fname, m, setup=None):
    write_bytes(fname, m.SerializeToString(), None, setup)


def set_external(t, location, offset=None, length=None):
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)


# ---- raw protobuf helpers (for what onnx's API cannot express) ---------------------------------------------
def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def key(field, wt):
    return varint(field << 3 | wt)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


HEADER = key(1, 0) + varint(8) + ld(8, key(2, 0) + varint(13))  # ir_version 8, opset_import { version 13 }

# ---- external data -------------------------------------------------------------------------------------------
with open(os.path.join(OUT, EXT), "wb") as f:
    f.write(W.astype("<f4").tobytes() + FCW.astype("<f4").tobytes())
WB = W.nbytes  # 432
os.makedirs(os.path.join(OUT, "ext_sub"), exist_ok=True)
with open(os.path.join(OUT, "ext_sub", "fc_bias.bin"), "wb") as f:
    f.write(FCB.astype("<f4").tobytes())

m = base(); set_external(init(m, "conv.weight"), EXT, 0, WB); set_external(init(m, "fc.weight"), EXT, WB, FCW.nbytes)
set_external(init(m, "fc.bias"), "ext_sub/fc_bias.bin")
valid("valid_external.onnx", m)
m = base(); set_external(init(m, "conv.weight"), "../" + EXT, 0, WB)
reject("ext_dotdot.onnx", m, "conv.weight", "'..'")
m = base(); set_external(init(m, "conv.weight"), "ext_sub/../../corpus/" + EXT, 0, WB)
reject("ext_dotdot_inner.onnx", m, "conv.weight", "'..'")
m = base(); set_external(init(m, "conv.weight"), "/etc/passwd", 0, WB)
reject("ext_absolute.onnx", m, "conv.weight", "absolute")
m = base(); set_external(init(m, "conv.weight"), "..\\..\\etc\\passwd", 0, WB)
reject("ext_backslash.onnx", m, "conv.weight", "backslash")
m = base(); set_external(init(m, "conv.weight"), EXT, 1000, WB)
reject("ext_offset_past_eof.onnx", m, "conv.weight", "offset 1000 is past the end")
m = base(); set_external(init(m, "conv.weight"), EXT, 200, WB)
reject("ext_length_past_eof.onnx", m, "conv.weight", "runs past the end")
m = base(); set_external(init(m, "conv.weight"), EXT, -8, WB)
reject("ext_offset_negative.onnx", m, "conv.weight", "offset '-8'")
m = base(); set_external(init(m, "conv.weight"), EXT, 0, -432)
reject("ext_length_negative.onnx", m, "conv.weight", "length '-432'")
m = base(); set_external(init(m, "conv.weight"), EXT, 2**64 + 5, WB)
reject("ext_offset_overflow.onnx", m, "conv.weight", "offset")
m = base(); set_external(init(m, "conv.weight"), EXT, 2**63 - 1, WB)
reject("ext_offset_int64_max.onnx", m, "conv.weight", "past the end")
m = base(); set_external(init(m, "conv.weight"), EXT, 2**63 - 100, 2**63 - 1)
reject("ext_offset_length_overflow.onnx", m, "conv.weight", "past the end")
m = base(); set_external(init(m, "conv.weight"), EXT, 0, 16)
reject("ext_length_mismatch.onnx", m, "conv.weight", "does not match")
m = base(); set_external(init(m, "conv.weight"), "missing.bin", 0, WB)
reject("ext_missing_file.onnx", m, "conv.weight", "missing.bin")
m = base(); set_external(init(m, "conv.weight"), "", 0, WB)
reject("ext_empty_location.onnx", m, "conv.weight", "location")
m = base(); set_external(init(m, "conv.weight"), "ext_sub", 0, WB)
reject("ext_is_folder.onnx", m, "conv.weight", "not a regular file")
m = base(); init(m, "conv.weight").data_location = TensorProto.EXTERNAL
reject("ext_with_raw_data.onnx", m, "conv.weight", "raw_data")
# built at test time by run_corpus.py (symlinks, hard links, FIFOs)
m = base(); set_external(init(m, "conv.weight"), "w.bin", 0, WB)
reject("ext_symlink_file.onnx", m, "conv.weight", "symlink", setup="symlink_file")
reject("ext_hardlink.onnx", m, "conv.weight", "hard link", setup="hardlink")
reject("ext_fifo.onnx", m, "conv.weight", "not a regular file", setup="fifo")
valid("valid_external_runtime.onnx", m, setup="regular_file")
m = base(); set_external(init(m, "conv.weight"), "sub/w.bin", 0, WB)
reject("ext_symlink_dir.onnx", m, "conv.weight", "symlink", setup="symlink_dir")

# ---- tensors: dims, payload sizes, dtypes ------------------------------------------------------------------
def dims(m, name, d):
    t = init(m, name)
    del t.dims[:]
    t.dims.extend(d)

m = base(); dims(m, "conv.weight", [4, -3, 3, 3])
reject("dims_negative.onnx", m, "conv.weight", "negative")
m = base(); dims(m, "conv.weight", [2**62, 4, 1, 1])
reject("dims_product_overflow.onnx", m, "conv.weight", "overflows")
m = base(); dims(m, "conv.weight", [2**31, 2**31, 2**31, 1])
reject("dims_product_overflow_tiny_payload.onnx", m, "conv.weight", "overflows")
m = base(); dims(m, "conv.weight", [2**61, 2, 1, 1])
reject("dims_bytes_overflow.onnx", m, "conv.weight", "overflows")
m = base(); dims(m, "conv.weight", [2**20, 2**20, 1, 1])
reject("dims_huge_claim.onnx", m, "conv.weight", "limit")
m = base(); dims(m, "conv.weight", [375000000, 1, 1, 1])  # 1.5 GB claimed, 432 bytes given: no allocation
reject("dims_big_claim_tiny_payload.onnx", m, "conv.weight", "raw_data has 432 bytes")
m = base(); dims(m, "conv.weight", [1] * 9)
reject("dims_rank9.onnx", m, "conv.weight", "rank 9")
m = base(); init(m, "conv.weight").raw_data = W.tobytes()[:400]
reject("raw_data_short.onnx", m, "conv.weight", "raw_data has 400 bytes")
m = base(); init(m, "conv.weight").raw_data = W.tobytes() + b"\0" * 68
reject("raw_data_long.onnx", m, "conv.weight", "raw_data has 500 bytes")
m = base(); t = init(m, "conv.weight"); t.ClearField("raw_data"); t.float_data.extend([1.0] * 10)
reject("float_data_short.onnx", m, "conv.weight", "float_data has 10 values")
m = base(); init(m, "conv.weight").float_data.extend([1.0] * 108)
reject("raw_and_float_data.onnx", m, "conv.weight", "both")
m = base(); t = init(m, "conv.weight"); t.ClearField("raw_data")
reject("no_data.onnx", m, "conv.weight", "no data")
m = base(); t = init(m, "fc.bias"); t.ClearField("raw_data"); t.data_type = TensorProto.INT64; t.float_data.extend([0.0] * 10)
reject("wrong_typed_field.onnx", m, "fc.bias", "int64_data")
m = base(); m.graph.initializer.append(numpy_helper.from_array(np.ones(4, np.float16), "half.weight"))
reject("dtype_float16.onnx", m, "half.weight", "float16")
m = base(); m.graph.initializer.append(helper.make_tensor("names", TensorProto.STRING, [2], [b"a", b"b"]))
reject("dtype_string.onnx", m, "names", "string")
m = base(); m.graph.initializer.append(helper.make_tensor("q.int8", TensorProto.INT8, [2], [1, 1]))
init(m, "q.int8").ClearField("raw_data"); del init(m, "q.int8").int32_data[:]; init(m, "q.int8").int32_data.extend([5, 300])
reject("int8_out_of_range.onnx", m, "q.int8", "out of range")
m = base(); init(m, "conv.weight").ClearField("data_type")
reject("no_data_type.onnx", m, "conv.weight", "data_type")
m = base(); t = init(m, "conv.weight")
t.ParseFromString(t.SerializeToString() + key(14, 0) + varint(5))  # python refuses unknown enum values
reject("data_location_invalid.onnx", m, "conv.weight", "data_location")
m = base(); init(m, "conv.weight").segment.begin = 0; init(m, "conv.weight").segment.end = 1
reject("segment.onnx", m, "conv.weight", "segment")
m = base(); sp = m.graph.sparse_initializer.add(); sp.values.CopyFrom(numpy_helper.from_array(B, "sparse.w"))
sp.indices.CopyFrom(numpy_helper.from_array(np.arange(4, dtype=np.int64), "sparse.i")); sp.dims.extend([8])
reject("sparse_initializer.onnx", m, "sparse.w", "sparse")
m = base(); init(m, "conv.weight").name = ""
reject("initializer_no_name.onnx", m, "initializer 0 has no name")

# ---- graph structure: names, order ----------------------------------------------------------------------------
m = base(); m.graph.initializer.append(numpy_helper.from_array(W, "conv.weight"))
reject("dup_initializer.onnx", m, "conv.weight", "duplicate")
m = base(); node(m, "relu0").output[0] = "c0"; node(m, "gap0").input[0] = "c0"
reject("dup_node_output.onnx", m, "relu0", "'c0'", "conv0")
m = base(); node(m, "relu0").output[0] = "conv.bias"; node(m, "gap0").input[0] = "conv.bias"
reject("output_is_initializer.onnx", m, "relu0", "conv.bias", "initializer")
m = base(); node(m, "relu0").output[0] = "input_image"; node(m, "gap0").input[0] = "input_image"
reject("output_is_input.onnx", m, "relu0", "input_image", "graph input")
m = base(); m.graph.input.append(copy.deepcopy(m.graph.input[0]))
reject("dup_graph_input.onnx", m, "input_image", "twice")
m = base(); node(m, "relu0").input[0] = "ghost_tensor"
reject("undefined_input.onnx", m, "relu0", "ghost_tensor", "undefined")
m = base(); node(m, "relu0").input[0] = "r0"
reject("self_loop.onnx", m, "relu0", "r0", "itself")
m = base()
n1 = helper.make_node("Relu", ["b_out"], ["a_out"], name="relu_a")
n2 = helper.make_node("Relu", ["a_out"], ["b_out"], name="relu_b")
node(m, "gap0").input[0] = "a_out"
nodes = list(m.graph.node); del m.graph.node[:]
m.graph.node.extend(nodes[:2] + [n1, n2] + nodes[2:])
reject("cycle.onnx", m, "relu_a", "b_out", "cycle")
m = base(); nodes = list(m.graph.node); del m.graph.node[:]
m.graph.node.extend([nodes[0], nodes[2], nodes[1]] + nodes[3:])
reject("not_topological.onnx", m, "gap0", "relu0", "later")
m = base(); m.graph.output[0].name = "nowhere"
reject("output_undefined.onnx", m, "nowhere")
m = base(); m.graph.output.append(copy.deepcopy(m.graph.output[0]))
reject("dup_graph_output.onnx", m, "probs", "twice")
m = base(); node(m, "relu0").input.append("c0")
reject("arity.onnx", m, "relu0", "inputs")
m = base(); m.graph.input[0].ClearField("type")
reject("input_no_type.onnx", m, "input_image", "no type")
m = base(); m.graph.input[0].type.CopyFrom(helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [3])))
reject("input_sequence.onnx", m, "input_image", "not a tensor")
m = base(); m.graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
reject("input_float16.onnx", m, "input_image", "float16")
m = base(); m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = -3
reject("input_negative_dim.onnx", m, "input_image", "negative")
m = base(); m.graph.input[0].type.tensor_type.shape.dim.extend([copy.deepcopy(m.graph.input[0].type.tensor_type.shape.dim[1]) for _ in range(6)])
reject("input_rank10.onnx", m, "input_image", "rank 10")
m = base(); m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 5
reject("input_channels_mismatch.onnx", m, "conv0", "channels")

# ---- attributes out of range (caught by the op's shape rule in ir_verify) ---------------------------------
def set_int(m, n, a, v):
    attr(node(m, n), a).i = v

def set_ints(m, n, a, v):
    x = attr(node(m, n), a); del x.ints[:]; x.ints.extend(v)

m = base(); set_int(m, "conv0", "group", 0)
reject("conv_group0.onnx", m, "conv0", "group")
m = base(); set_int(m, "conv0", "group", -1)
reject("conv_group_negative.onnx", m, "conv0", "group")
m = base(); set_int(m, "conv0", "group", 2**62)
reject("conv_group_huge.onnx", m, "conv0", "group")
m = base(); set_ints(m, "conv0", "strides", [0, 1])
reject("conv_strides0.onnx", m, "conv0", "strides")
m = base(); set_ints(m, "conv0", "pads", [1, -1, 1, 1])
reject("conv_pads_negative.onnx", m, "conv0", "pads")
m = base(); set_ints(m, "conv0", "pads", [2**62, 0, 0, 0])
reject("conv_pads_huge.onnx", m, "conv0", "pads")
m = base(); node(m, "conv0").attribute.append(helper.make_attribute("dilations", [0, 1]))
reject("conv_dilations0.onnx", m, "conv0", "dilations")
m = base(); node(m, "conv0").attribute.append(helper.make_attribute("kernel_shape", [5, 5]))
reject("conv_kernel_shape_mismatch.onnx", m, "conv0", "kernel_shape")
m = base(); node(m, "conv0").attribute.append(helper.make_attribute("auto_pad", "SAME_EVIL"))
reject("conv_auto_pad_unknown.onnx", m, "conv0", "auto_pad")
m = base(); set_int(m, "fc", "transB", 2)
reject("gemm_transB2.onnx", m, "fc", "trans")
m = base(); set_int(m, "softmax", "axis", 99)
reject("softmax_axis99.onnx", m, "softmax", "axis")
m = base(); set_int(m, "flat0", "axis", -9)
reject("flatten_axis_out_of_range.onnx", m, "flat0", "axis")
m = base(); node(m, "flat0").input[0] = "cat0"
m.graph.node.insert(3, helper.make_node("Concat", ["g0", "g0"], ["cat0"], name="concat0", axis=7))
reject("concat_axis_out_of_range.onnx", m, "concat0", "axis")
m = base(); attr(node(m, "conv0"), "group").ClearField("type")
reject("attr_no_type.onnx", m, "conv0", "group", "no type")
m = base(); node(m, "conv0").attribute.append(helper.make_attribute("group", 1))
reject("attr_duplicate.onnx", m, "conv0", "group", "twice")
m = base(); a = node(m, "conv0").attribute.add(); a.name = "group2"; a.ref_attr_name = "outer"; a.type = onnx.AttributeProto.INT
reject("attr_ref_attr_name.onnx", m, "conv0", "group2", "function")
m = base(); node(m, "relu0").attribute.append(helper.make_attribute("body", helper.make_graph([], "sub", [], [])))
reject("attr_graph.onnx", m, "relu0", "body", "graph")
m = base(); a = node(m, "relu0").attribute.add(); a.name = "weird"
a.ParseFromString(a.SerializeToString() + key(20, 0) + varint(77))
reject("attr_type_invalid.onnx", m, "relu0", "weird")

# ---- ops, domains, opsets, versions ---------------------------------------------------------------------------
m = base(); node(m, "relu0").op_type = "FooBar"; node(m, "relu0").name = "mystery0"
reject("unknown_op.onnx", m, "mystery0", "unsupported op 'FooBar'")
m = base(); node(m, "relu0").op_type = "FooBar"; node(m, "relu0").name = ""
reject("unknown_op_unnamed.onnx", m, "FooBar_1", "unsupported op 'FooBar'")
m = base(); n = node(m, "relu0"); n.op_type = "If"
reject("control_flow_op.onnx", m, "relu0", "unsupported op 'If'")
m = base(); node(m, "relu0").domain = "com.microsoft"; m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
reject("custom_domain.onnx", m, "relu0", "com.microsoft")
m = base(); node(m, "relu0").domain = "org.evil"
reject("domain_not_imported.onnx", m, "relu0", "org.evil")
m = base(opset=3)
reject("opset3.onnx", m, "opset 3")
m = base(opset=99)
reject("opset99.onnx", m, "opset 99")
m = base(); del m.opset_import[:]; m.opset_import.append(helper.make_opsetid("ai.onnx.ml", 3))
reject("no_default_opset.onnx", m, "opset")
m = base(); m.opset_import.append(helper.make_opsetid("ai.onnx", 11))
reject("opset_twice.onnx", m, "opset")
m = base(ir_version=1)
reject("ir_version1.onnx", m, "IR version 1")
m = base(ir_version=99)
reject("ir_version99.onnx", m, "IR version 99")
m = base(); m.ClearField("ir_version")
reject("no_ir_version.onnx", m, "ir_version")
m = base(); m.ClearField("graph")
reject("no_graph.onnx", m, "no graph")
m = base()
m.graph.node.insert(0, helper.make_node("Constant", [], ["k"], name="const0", value_string="boo"))
reject("constant_value_string.onnx", m, "const0", "value_string")
m = base()
m.graph.node.insert(0, helper.make_node("Constant", [], ["k"], name="const0", value_float=1.0, value_int=2))
reject("constant_two_values.onnx", m, "const0", "exactly one")
m = base()
neg = TensorProto(); neg.data_type = TensorProto.FLOAT; neg.dims.extend([-2])
m.graph.node.insert(0, helper.make_node("Constant", [], ["k"], name="const0", value=neg))
reject("constant_negative_dim.onnx", m, "const0", "negative")

# ---- op forms that do not exist at the model's opset (the checker's job in ONNX; silently misread otherwise) -
m = base(); node(m, "relu0").op_type = "HardSwish"
reject("hardswish_opset13.onnx", m, "relu0", "opset 14")
m = base(); n = node(m, "relu0"); n.op_type = "Clip"; n.attribute.extend([helper.make_attribute("min", 0.0),
                                                                         helper.make_attribute("max", 6.0)])
reject("clip_attributes_opset13.onnx", m, "relu0", "'min'/'max'")
m = base(opset=11); node(m, "flat0").op_type = "Squeeze"; del node(m, "flat0").attribute[:]
node(m, "flat0").input.append("sq_axes"); m.graph.initializer.append(numpy_helper.from_array(np.array([2, 3], np.int64), "sq_axes"))
reject("squeeze_axes_input_opset11.onnx", m, "flat0", "attribute before opset 13")
m = base(); node(m, "flat0").op_type = "Squeeze"; del node(m, "flat0").attribute[:]
node(m, "flat0").attribute.append(helper.make_attribute("axes", [2, 3]))
reject("squeeze_axes_attribute_opset13.onnx", m, "flat0", "input from opset 13")

# ---- the wire format: raw bytes -------------------------------------------------------------------------------
def nested_graphs(levels):
    """graph { node { attribute { g { node { attribute { g ... } } } } } }, built inside out in O(n)."""
    heads, length = [], 0
    for _ in range(levels):
        for field in (6, 5, 1):  # AttributeProto.g, NodeProto.attribute, GraphProto.node
            h = key(field, 2) + varint(length)
            heads.append(h)
            length += len(h)
    h = key(7, 2) + varint(length)  # ModelProto.graph
    heads.append(h)
    return HEADER + b"".join(reversed(heads))

write_bytes("deep_nesting.onnx", nested_graphs(100000), ["nest deeper than"])
good = base().SerializeToString()
write_bytes("truncated.onnx", good[: int(len(good) * 0.6)], ["truncated"])
write_bytes("truncated_varint.onnx", HEADER + b"\x28\xff\xff", ["truncated"])
write_bytes("garbage.onnx", np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(), [])
write_bytes("text.onnx", b"this is not a model, just some text\n" * 20, [])
write_bytes("empty.onnx", b"", ["empty"])
write_bytes(".onnx", b"", ["empty"])
write_bytes("huge_string_length.onnx", HEADER + key(2, 2) + varint(2**31 - 1) + b"pytorch", ["declares 2147483647 bytes"])
write_bytes("huge_string_length_4g.onnx", HEADER + key(2, 2) + varint(2**32 - 1) + b"pytorch", ["above 2 GiB"])
write_bytes("huge_nested_length.onnx", HEADER + ld(7, ld(1, key(3, 2) + varint(2**30) + b"relu")) + b"\0" * 64,
            ["onnx.NodeProto.name", "declares"])
write_bytes("huge_repeated_count.onnx", HEADER + ld(7, ld(5, key(1, 2) + varint(2**31 - 2))), ["declares"])
write_bytes("varint_11_bytes.onnx", HEADER + key(5, 0) + b"\xff" * 10 + b"\x01", ["longer than 10 bytes"])
write_bytes("wire_type_mismatch.onnx", HEADER + key(7, 0) + varint(5), ["wire type"])
write_bytes("wire_type_group.onnx", HEADER + key(7, 3) + key(7, 4), ["group"])
write_bytes("field_number_zero.onnx", HEADER + b"\x02\x00", ["field number 0"])
relu = ld(1, ld(1, b"x") + ld(2, b"y") + ld(4, b"Relu"))
write_bytes("repeated_singular_message.onnx", HEADER + b"".join([ld(7, relu)] * 1000), ["onnx.ModelProto.graph",
                                                                                        "twice"])
write_bytes("packed_dims_cut.onnx", HEADER + ld(7, ld(5, ld(1, b"\x04\xff"))), ["packed"])

# ---- inputs that must load (no over-rejection) ---------------------------------------------------------------
valid("valid_base.onnx", base())
m = base()
for n in m.graph.node:
    n.name = ""
valid("valid_unnamed_nodes.onnx", m)
m = base()
for n in m.graph.node:
    n.domain = "ai.onnx"
valid("valid_ai_onnx_domain.onnx", m)
m = base(ir_version=3)
for t in m.graph.initializer:
    m.graph.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
valid("valid_initializers_as_inputs.onnx", m)
m = onnx.shape_inference.infer_shapes(base())
valid("valid_value_info.onnx", m)
m = base()
for t in list(m.graph.initializer):
    a = numpy_helper.to_array(t)
    t.ClearField("raw_data")
    t.float_data.extend(a.flatten().tolist())
for name, dt, vals in (("t.int8", TensorProto.INT8, [-128, 127]), ("t.uint8", TensorProto.UINT8, [0, 255]),
                       ("t.bool", TensorProto.BOOL, [1, 0]), ("t.int32", TensorProto.INT32, [-7, 7]),
                       ("t.int64", TensorProto.INT64, [2**62, -1]), ("t.double", TensorProto.DOUBLE, [0.1, -2.5])):
    m.graph.initializer.append(helper.make_tensor(name, dt, [2], vals))
valid("valid_typed_fields.onnx", m)
m = base()
m.graph.node.insert(0, helper.make_node("Constant", [], ["shape_c"], name="c_shape",
                                        value=numpy_helper.from_array(np.array([0, -1], np.int64))))
m.graph.node.insert(0, helper.make_node("Constant", [], ["lo_c"], name="c_lo", value_float=0.0))
m.graph.node.insert(0, helper.make_node("Constant", [], ["hi_c"], name="c_hi",
                                        value=numpy_helper.from_array(np.array(6.0, np.float32))))
m.graph.node.insert(0, helper.make_node("Constant", [], ["unused_fs"], name="c_fs", value_floats=[1.0, 2.0]))
m.graph.node.insert(0, helper.make_node("Constant", [], ["unused_i"], name="c_i", value_int=3))
m.graph.node.insert(0, helper.make_node("Constant", [], ["unused_is"], name="c_is", value_ints=[1, 2, 3]))
node(m, "relu0").op_type = "Clip"; node(m, "relu0").input.extend(["lo_c", "hi_c"])
node(m, "flat0").op_type = "Reshape"; node(m, "flat0").input.append("shape_c"); del node(m, "flat0").attribute[:]
valid("valid_constants.onnx", m)
m = base(opset=9)
node(m, "relu0").op_type = "Clip"; node(m, "relu0").attribute.extend([helper.make_attribute("min", 0.0),
                                                                     helper.make_attribute("max", 6.0)])
valid("valid_opset9.onnx", m)
m = base(opset=17)
valid("valid_opset17.onnx", m)
m = base(opset=11); node(m, "flat0").op_type = "Squeeze"; del node(m, "flat0").attribute[:]
node(m, "flat0").attribute.append(helper.make_attribute("axes", [2, 3]))
valid("valid_squeeze_opset11.onnx", m)
m = base(opset=14); node(m, "relu0").op_type = "HardSwish"
valid("valid_hardswish_opset14.onnx", m)
m = base(); m.graph.input[0].type.tensor_type.shape.dim[0].ClearField("dim_param")
m.graph.output[0].type.tensor_type.shape.dim[0].ClearField("dim_param")
valid("valid_unknown_batch_dim.onnx", m)
write_bytes("valid_unknown_fields.onnx", base().SerializeToString() + key(999, 2) + varint(3) + b"abc" +
            key(1000, 0) + varint(5), None)
write_bytes("node_without_op_type.onnx", HEADER + ld(7, ld(1, b"")), ["node_0", "no op_type"])

with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"{len(manifest)} cases in {OUT}")
