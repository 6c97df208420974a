#!/usr/bin/python3
"""Writes the seed corpora of hpk's fuzz targets into tests/fuzz/corpus/<target>/ (deterministic bytes).

Run with Debian's interpreter (python3-onnx, python3-numpy, python3-pil):
    /usr/bin/python3 tests/fuzz/make_seeds.py [CORPUS_DIR]
Checkpoint seeds and some JPEG/PNG variants come from build/tests/fuzz/fuzz_make_seeds (hpk's checkpoint writer,
libjpeg, libpng), run from here when it is built (or name it with FUZZ_MAKE_SEEDS=PATH).
Only the files named "seed-*" are (re)written here; files that fuzzing added (hash names, merged with
libFuzzer's -merge=1) are left alone."""
import gzip, io, os, struct, subprocess, sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
HOSTILE = os.path.join(HERE, "..", "hostile", "corpus")


def target_dir(t):
    d = os.path.join(OUT, t)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    return d


def put(t, name, data):
    with open(os.path.join(OUT, t, "seed-" + name), "wb") as f:
        f.write(data)


rng = np.random.default_rng(7)

# ---- onnx: small valid models covering every ONNX op hpk imports, at several opsets -----------------------------
target_dir("onnx")


def f32(name, shape, scale=0.1):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def i64(name, vals):
    return numpy_helper.from_array(np.array(vals, dtype=np.int64), name)


def vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def model(name, nodes, inputs, outputs, inits, opset=13, value_info=(), **kw):
    g = helper.make_graph(nodes, name, inputs, outputs, inits, value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_seeds", **kw)
    m.ir_version = 8 if opset >= 13 else 6
    put("onnx", name + ".onnx", m.SerializeToString())


N = helper.make_node
# MobileNetV2-like block: conv, BN, clip (relu6), depthwise conv, residual add, GAP, flatten, gemm, softmax
model("mbv2_block", [
    N("Conv", ["x", "c1.w"], ["c1"], name="c1", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
    N("BatchNormalization", ["c1", "bn.s", "bn.b", "bn.m", "bn.v"], ["b1"], name="bn1", epsilon=1e-5),
    N("Clip", ["b1", "zero", "six"], ["r1"], name="relu6"),
    N("Conv", ["r1", "dw.w", "dw.b"], ["d1"], name="dw", group=4, pads=[1, 1, 1, 1]),
    N("Add", ["d1", "r1"], ["a1"], name="res"),
    N("GlobalAveragePool", ["a1"], ["g"], name="gap"),
    N("Flatten", ["g"], ["f"], name="flat"),
    N("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
    N("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
], [vi("x", ["N", 3, 8, 8])], [vi("probs", ["N", 5])],
    [f32("c1.w", (4, 3, 3, 3)), f32("bn.s", (4,)), f32("bn.b", (4,)), f32("bn.m", (4,)),
     numpy_helper.from_array(np.ones(4, np.float32), "bn.v"), numpy_helper.from_array(np.float32(0), "zero"),
     numpy_helper.from_array(np.float32(6), "six"), f32("dw.w", (4, 1, 3, 3)), f32("dw.b", (4,)),
     f32("fc.w", (5, 4)), f32("fc.b", (5,))], doc_string="seed")

# MobileNetV3-like squeeze-excite with hardswish / hardsigmoid (opset 14)
model("mbv3_se", [
    N("Conv", ["x", "c.w"], ["c"], name="c", strides=[1, 1]),
    N("HardSwish", ["c"], ["hs"], name="hswish"),
    N("GlobalAveragePool", ["hs"], ["p"], name="se_pool"),
    N("Conv", ["p", "se1.w", "se1.b"], ["s1"], name="se1"),
    N("Relu", ["s1"], ["s2"], name="se_relu"),
    N("Conv", ["s2", "se2.w", "se2.b"], ["s3"], name="se2"),
    N("HardSigmoid", ["s3"], ["s4"], name="se_gate", alpha=1.0 / 6, beta=0.5),
    N("Mul", ["hs", "s4"], ["y"], name="se_mul"),
], [vi("x", ["N", 2, 5, 5])], [vi("y", ["N", 4, 5, 5])],
    [f32("c.w", (4, 2, 1, 1)), f32("se1.w", (2, 4, 1, 1)), f32("se1.b", (2,)), f32("se2.w", (4, 2, 1, 1)),
     f32("se2.b", (4,))], opset=14)

# pooling
model("pools", [
    N("MaxPool", ["x"], ["m"], name="maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    N("AveragePool", ["m"], ["a"], name="avgpool", kernel_shape=[2, 2], pads=[0, 0, 1, 1], count_include_pad=1),
    N("GlobalMaxPool", ["a"], ["g"], name="gmp"),
    N("AveragePool", ["x"], ["same"], name="avg_same", kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
], [vi("x", [1, 2, 9, 7])], [vi("g", [1, 2, 1, 1]), vi("same", [1, 2, 9, 7])], [])

# tensor plumbing at opset 13: reshape, squeeze/unsqueeze by input, concat, identity, dropout, constant
model("plumbing13", [
    N("Constant", [], ["shape"], name="const_shape", value=numpy_helper.from_array(np.array([0, -1], np.int64))),
    N("Reshape", ["x", "shape"], ["r"], name="reshape"),
    N("Unsqueeze", ["r", "ax1"], ["u"], name="unsq"),
    N("Squeeze", ["u", "ax1"], ["s"], name="sq"),
    N("Concat", ["s", "s", "x2"], ["c"], name="concat", axis=1),
    N("Identity", ["c"], ["i"], name="ident"),
    N("Dropout", ["i"], ["d"], name="drop"),
    N("Flatten", ["d"], ["f"], name="flat", axis=0),
], [vi("x", ["B", 2, 3]), vi("x2", ["B", 4])], [vi("f", [1, None])],
    [i64("ax1", [1])], value_info=[vi("r", ["B", 6])])

# the same ideas at opset 11/12 (attribute forms) and opset 9
model("plumbing11", [
    N("Unsqueeze", ["x"], ["u"], name="unsq", axes=[0, 3]),
    N("Squeeze", ["u"], ["s"], name="sq", axes=[0]),
    N("Clip", ["s", "lo", "hi"], ["c"], name="clip"),
    N("ReduceMean", ["c"], ["m"], name="mean", axes=[1, 2], keepdims=0),
], [vi("x", [2, 3, 4])], [vi("m", [2, 4])], [numpy_helper.from_array(np.float32(-1), "lo"),
                                            numpy_helper.from_array(np.float32(1), "hi")], opset=11)
model("opset9", [
    N("Clip", ["x"], ["c"], name="clip", min=0.0, max=6.0),
    N("Dropout", ["c"], ["d"], name="drop", ratio=0.25),
    N("BatchNormalization", ["d", "s", "b", "m", "v"], ["bn"], name="bn"),
    N("Softmax", ["bn"], ["y"], name="softmax", axis=1),
], [vi("x", ["N", 3, 2, 2])], [vi("y", ["N", 3, 2, 2])],
    [f32("s", (3,)), f32("b", (3,)), f32("m", (3,)), numpy_helper.from_array(np.ones(3, np.float32), "v")], opset=9)
model("opset12_dropout", [
    N("Dropout", ["x", "ratio"], ["d", "mask"], name="drop"),
    N("LogSoftmax", ["d"], ["y"], name="lsm", axis=1),
], [vi("x", ["N", 10])], [vi("y", ["N", 10]), vi("mask", ["N", 10], TensorProto.BOOL)],
    [numpy_helper.from_array(np.float32(0.5), "ratio")], opset=12)

# arithmetic, matmul, normalization, reductions (opset 17)
model("math17", [
    N("MatMul", ["x", "w"], ["mm"], name="matmul"),
    N("Sub", ["mm", "c1"], ["s"], name="sub"),
    N("Div", ["s", "c2"], ["dv"], name="div"),
    N("Pow", ["dv", "two"], ["p"], name="pow"),
    N("Exp", ["p"], ["e"], name="exp"),
    N("Sigmoid", ["e"], ["sg"], name="sigmoid"),
    N("LpNormalization", ["sg"], ["n"], name="l2", axis=-1, p=2),
    N("ReduceSumSquare", ["n"], ["rss"], name="rss", axes=[1], keepdims=1),
    N("ReduceMean", ["n"], ["rm"], name="rmean", axes=[1], keepdims=0),
], [vi("x", ["N", 3, 4])], [vi("rss", ["N", 1, 6]), vi("rm", ["N", 6])],
    [f32("w", (4, 6)), f32("c1", (6,)), f32("c2", (1, 6)), numpy_helper.from_array(np.float32(2), "two"),
     ], opset=17)
model("math13", [
    N("ReduceMean", ["x"], ["rm"], name="rmean", axes=[-1]),
    N("ReduceSumSquare", ["x"], ["rs"], name="rss", axes=[0, 1], keepdims=0),
], [vi("x", [2, 3, 4])], [vi("rm", [2, 3, 1]), vi("rs", [4])], [], opset=13)

# a loss graph with integer labels
model("loss", [
    N("Gemm", ["x", "w", "b"], ["logits"], name="fc", transA=0, transB=0, alpha=0.5, beta=2.0),
    N("SoftmaxCrossEntropyLoss", ["logits", "labels"], ["loss", "logp"], name="ce", reduction="mean"),
], [vi("x", ["N", 4]), vi("labels", ["N"], TensorProto.INT64)], [vi("loss", []), vi("logp", ["N", 3])],
    [f32("w", (4, 3)), f32("b", (3,))], opset=13)

# initializers in the typed fields (float_data, int64_data, int32 as int32_data, doubles, bytes)
t_fd = helper.make_tensor("fd", TensorProto.FLOAT, [2, 2], [1.0, -2.0, 3.5, 0.25])
t_sh = helper.make_tensor("shp", TensorProto.INT64, [2], [2, 2])
model("typed_fields", [
    N("Reshape", ["x", "shp"], ["r"], name="reshape"),
    N("Mul", ["r", "fd"], ["y"], name="mul"),
    N("Add", ["y", "k"], ["z"], name="add"),
], [vi("x", [4])], [vi("z", [2, 2])],
    [t_fd, t_sh, helper.make_tensor("k", TensorProto.FLOAT, [], [0.5])], opset=13)

# recipes for fuzz_onnx's graph generator ("HPKG" + bytes): random, the fuzzer evolves them
grng = np.random.default_rng(11)
for k in range(16):
    put("onnx", "gen-%02d" % k, b"HPKG" + grng.integers(0, 256, 64 + 16 * k, dtype=np.uint8).tobytes())

# the hostile corpus's small cases (valid and invalid: the fuzzer starts from interesting structure)
for f in sorted(os.listdir(HOSTILE)):
    p = os.path.join(HOSTILE, f)
    if f.endswith(".onnx") and os.path.isfile(p) and os.path.getsize(p) <= 20000:
        with open(p, "rb") as fh:
            put("onnx", "hostile-" + f, fh.read())

# ---- idx ----------------------------------------------------------------------------------------------------------
target_dir("idx")


def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(payload)


def gz(b):
    return gzip.compress(b, compresslevel=6, mtime=0)


img = idx([3, 4, 5], rng.integers(0, 256, 60, dtype=np.uint8))
lab = idx([3], [0, 9, 4])
put("idx", "images.idx", img)
put("idx", "labels.idx", lab)
put("idx", "images.idx.gz", gz(img))
put("idx", "labels.idx.gz", gz(lab))
put("idx", "pair", img + b"IDXSPLIT" + lab)
put("idx", "pair-gz", gz(img) + b"IDXSPLIT" + gz(lab))
put("idx", "pair-mixed", img + b"IDXSPLIT" + gz(idx([3], [200, 1, 2])))
put("idx", "pair-1x1", idx([1, 1, 1], [7]) + b"IDXSPLIT" + idx([1], [0]))
put("idx", "two-dims", idx([2, 2], [1, 2, 3, 4]))
put("idx", "pair-count-mismatch", img + b"IDXSPLIT" + idx([2], [0, 1]))
put("idx", "pair-trailing", img + b"x" + b"IDXSPLIT" + lab)

# ---- cifar --------------------------------------------------------------------------------------------------------
target_dir("cifar")


def cifar(labels):
    return b"".join(bytes([l]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes() for l in labels)


put("cifar", "one", cifar([3]))
put("cifar", "two", cifar([0, 9]))
put("cifar", "train5", b"CIFSPLIT".join(cifar([k]) for k in range(5)))
put("cifar", "train3", b"CIFSPLIT".join(cifar([k]) for k in range(3)))
put("cifar", "bad-label", cifar([10]))
put("cifar", "short", cifar([1])[:3000])

# ---- npy (datasets) and npy_tensor (hpk_npy_load) -----------------------------------------------------------------
target_dir("npy")
target_dir("npy_tensor")


def npy(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a, allow_pickle=False)
    else:
        np.lib.format.write_array(b, a, version=version, allow_pickle=False)
    return b.getvalue()


fimg = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
uimg = rng.integers(0, 256, (3, 5, 4, 3), dtype=np.uint8)
gimg = rng.integers(0, 256, (2, 3, 3), dtype=np.uint8)
l64 = np.array([0, 2, 1], np.int64)
l32 = np.array([[1], [0]], np.int32)
put("npy", "float-images", npy(fimg))
put("npy", "u8-images", npy(uimg))
put("npy", "gray-images", npy(gimg))
put("npy", "labels64", npy(l64))
put("npy", "labels32", npy(l32))
put("npy", "pair-float", npy(fimg) + b"NPYSPLIT" + npy(np.array([1, 0], np.int64)))
put("npy", "pair-u8", npy(uimg) + b"NPYSPLIT" + npy(l64))
put("npy", "pair-gray-i32", npy(gimg) + b"NPYSPLIT" + npy(l32))
put("npy", "pair-mismatch", npy(uimg) + b"NPYSPLIT" + npy(np.array([0], np.int64)))
put("npy", "pair-nan", npy(np.full((1, 1, 2, 2), np.nan, np.float32)) + b"NPYSPLIT" + npy(np.array([0], np.int64)))

arrays = {
    "f4": rng.standard_normal((2, 3)).astype(np.float32),
    "i8": np.arange(6, dtype=np.int64).reshape(3, 2),
    "u1": np.arange(5, dtype=np.uint8),
    "i1": np.array([-1, 2], np.int8),
    "i4": np.array([[7]], np.int32),
    "f8": np.array([1.5, -0.0], np.float64),
    "b1": np.array([True, False, True]),
    "scalar": np.float32(3.0),
    "empty": np.zeros((0,), np.float32),
    "empty3": np.zeros((2, 0, 3), np.int64),
    "rank8": np.zeros((1, 2, 1, 2, 1, 2, 1, 1), np.uint8),
}
for k, a in arrays.items():
    put("npy_tensor", k + ".npy", npy(np.asarray(a)))
put("npy_tensor", "v2.npy", npy(arrays["f4"], version=(2, 0)))
put("npy_tensor", "v3.npy", npy(arrays["i8"], version=(3, 0)))
put("npy_tensor", "fortran.npy", npy(np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))))
put("npy_tensor", "big-endian.npy", npy(np.arange(3, dtype=">f4")))
put("npy_tensor", "float16.npy", npy(np.arange(3, dtype=np.float16)))
put("npy_tensor", "truncated.npy", npy(arrays["f4"])[:-3])

# ---- image: tiny PNG and JPEG files of every kind the decoder handles ---------------------------------------------
target_dir("image")


def pil(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


rgb = Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8), "RGB")
put("image", "rgb.png", pil(rgb, "PNG"))
put("image", "gray.png", pil(rgb.convert("L"), "PNG"))
put("image", "bilevel.png", pil(rgb.convert("1"), "PNG"))
put("image", "palette.png", pil(rgb.convert("P", palette=Image.ADAPTIVE, colors=16), "PNG"))
put("image", "palette-4bit.png", pil(rgb.convert("P", palette=Image.ADAPTIVE, colors=4), "PNG", bits=2))
put("image", "rgba.png", pil(rgb.convert("RGBA"), "PNG"))
put("image", "gray-alpha.png", pil(rgb.convert("LA"), "PNG"))
put("image", "gray16.png", pil(Image.fromarray(rng.integers(0, 65535, (5, 6), dtype=np.uint16).astype(np.int32), "I")
                                   .convert("I;16"), "PNG"))
put("image", "1x1.png", pil(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
put("image", "rgb.jpg", pil(rgb, "JPEG", quality=80))
put("image", "rgb-444.jpg", pil(rgb, "JPEG", quality=90, subsampling=0))
put("image", "rgb-422.jpg", pil(rgb, "JPEG", quality=90, subsampling=1))
put("image", "progressive.jpg", pil(rgb, "JPEG", quality=75, progressive=True))
put("image", "optimized.jpg", pil(rgb, "JPEG", quality=60, optimize=True))
put("image", "gray.jpg", pil(rgb.convert("L"), "JPEG", quality=85))
put("image", "cmyk.jpg", pil(rgb.convert("CMYK"), "JPEG", quality=85))
put("image", "big-for-scaling.jpg", pil(rgb.resize((64, 48)), "JPEG", quality=50))
put("image", "1x1.jpg", pil(Image.new("L", (1, 1), 5), "JPEG"))
put("image", "truncated.jpg", pil(rgb, "JPEG")[:200])
put("image", "truncated.png", pil(rgb, "PNG")[:60])

# ---- the C seeds: checkpoints from hpk's writer, JPEG/PNG variants from libjpeg/libpng --------------------------
tool = os.environ.get("FUZZ_MAKE_SEEDS") or os.path.join(HERE, "..", "..", "build", "tests", "fuzz", "fuzz_make_seeds")
target_dir("ckpt")
if os.path.exists(tool):
    subprocess.run([tool, "ckpt", os.path.join(OUT, "ckpt")], check=True)
    subprocess.run([tool, "image", os.path.join(OUT, "image")], check=True)
else:
    print("note: %s not built: no checkpoint seeds and no C image seeds (ninja -C build first)" % tool)

print("seeds written under", OUT)
