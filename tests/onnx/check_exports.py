#!/usr/bin/python3
"""Checks hpk's ONNX exports with Debian's onnx (python3-onnx 1.12) — an implementation independent of hpk.

usage: check_exports.py TEST_ONNX FIXTURES_DIR OUT_DIR
 - exports every fixture through hpk (test_onnx roundtrip) and the builder graphs (test_onnx builder);
 - runs onnx.checker.check_model(full_check=True) on each (full_check runs ONNX's shape inference too, so the
   value_info hpk writes must agree with ONNX's own inference);
 - reads the exported fixtures back with onnx and compares every initializer (and every Constant node of the
   source, which hpk turns into an initializer) with the source, bit for bit, plus node names/ops/inputs/
   outputs and graph inputs/outputs;
 - if ONNX Runtime for node is available (NODE_PATH or HPK_ORT_NODE_PATH), runs the exported fixtures on the
   fixtures' input and requires the fixtures' reference outputs bit for bit.
Must run under Debian's interpreter (/usr/bin/python3); exits 77 (skip) if onnx cannot be imported."""
import os, subprocess, sys, tempfile

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print(f"skipping: {e} (run with /usr/bin/python3)")
    sys.exit(77)

test_onnx, fixtures, outdir = sys.argv[1:4]
os.makedirs(outdir, exist_ok=True)
failures = []


def check(path):
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as e:  # the checker raises ValidationError or InferenceError
        failures.append(f"{os.path.basename(path)}: onnx.checker: {str(e).strip()[:600]}")


def source_constants(m):
    """name -> array for initializers and Constant nodes (value, value_float(s), value_int(s))."""
    out = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type != "Constant":
            continue
        a = n.attribute[0]
        if a.name == "value":
            out[n.output[0]] = numpy_helper.to_array(a.t)
        elif a.name == "value_float":
            out[n.output[0]] = np.array(a.f, np.float32)
        elif a.name == "value_floats":
            out[n.output[0]] = np.array(a.floats, np.float32)
        elif a.name == "value_int":
            out[n.output[0]] = np.array(a.i, np.int64)
        elif a.name == "value_ints":
            out[n.output[0]] = np.array(a.ints, np.int64)
    return out


def compare(src_path, out_path):
    tag = os.path.basename(src_path)
    src, out = onnx.load(src_path), onnx.load(out_path)
    want, got = source_constants(src), {t.name: numpy_helper.to_array(t) for t in out.graph.initializer}
    if set(want) != set(got):
        failures.append(f"{tag}: initializer names differ: {sorted(set(want) ^ set(got))[:10]}")
    for k in set(want) & set(got):
        a, b = want[k], got[k]
        if a.dtype != b.dtype or a.shape != b.shape or a.tobytes() != b.tobytes():
            failures.append(f"{tag}: initializer {k!r} differs ({a.dtype}{a.shape} vs {b.dtype}{b.shape})")
    src_nodes = [n for n in src.graph.node if n.op_type != "Constant"]
    if [(n.name, n.op_type, list(n.input), list(n.output)) for n in src_nodes] != \
       [(n.name, n.op_type, list(n.input), list(n.output)) for n in out.graph.node]:
        failures.append(f"{tag}: nodes differ")
    for n, m in zip(src_nodes, out.graph.node):
        if sorted(a.SerializeToString() for a in n.attribute) != sorted(a.SerializeToString() for a in m.attribute):
            failures.append(f"{tag}: node {n.name!r}: attributes differ")
    if [i.name for i in src.graph.input if i.name not in want] != [i.name for i in out.graph.input] or \
       [(o.name, o.type.SerializeToString()) for o in src.graph.output] != \
       [(o.name, o.type.SerializeToString()) for o in out.graph.output]:
        failures.append(f"{tag}: graph inputs/outputs differ")
    if (src.ir_version, src.producer_name, src.producer_version, src.opset_import[0].version) != \
       (out.ir_version, out.producer_name, out.producer_version, out.opset_import[0].version):
        failures.append(f"{tag}: model metadata differs")


def ort_available():
    node_path = os.environ.get("HPK_ORT_NODE_PATH") or os.environ.get("NODE_PATH")
    if not node_path or not shutil_which("node"):
        return None
    env = dict(os.environ, NODE_PATH=node_path)
    ok = subprocess.run(["node", "-e", "require('onnxruntime-node')"], env=env, capture_output=True).returncode == 0
    return env if ok else None


def shutil_which(p):
    import shutil
    return shutil.which(p)


exported = []
for f in sorted(os.listdir(fixtures)):
    if not f.endswith(".onnx"):
        continue
    src, out = os.path.join(fixtures, f), os.path.join(outdir, "export_" + f)
    p = subprocess.run([test_onnx, "roundtrip", src, out], capture_output=True, text=True)
    if p.returncode:
        failures.append(f"{f}: hpk round trip failed: {p.stderr.strip()[:600]}")
        continue
    check(out)
    compare(src, out)
    exported.append((f, out))

p = subprocess.run([test_onnx, "builder", outdir], capture_output=True, text=True)
if p.returncode:
    failures.append(f"builder graphs: {p.stderr.strip()[:600]}")
else:
    # builder_attr_types carries attributes no ONNX schema has (to exercise every attribute type): not checked
    for f in ("builder_all_ops.onnx", "builder_opset9.onnx"):
        check(os.path.join(outdir, f))

env = ort_available()
if env is None:
    print("ONNX Runtime for node not found (set HPK_ORT_NODE_PATH): skipping the numerical check")
else:
    runner = os.path.join(fixtures, "ort_run.js")
    for f, out in exported:
        stem = f[:-5]
        ref, inp = os.path.join(fixtures, stem + ".ort.npy"), os.path.join(fixtures, stem.split("_op")[0] + ".input.npy")
        if not (os.path.exists(ref) and os.path.exists(inp)):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            y = os.path.join(tmp, "y.npy")
            p = subprocess.run(["node", runner, out, inp, y], env=env, capture_output=True, text=True)
            if p.returncode:
                failures.append(f"{f}: ONNX Runtime rejected hpk's export: {p.stderr.strip()[:600]}")
            elif np.load(y).tobytes() != np.load(ref).tobytes():
                failures.append(f"{f}: ONNX Runtime output of hpk's export differs from the reference")
    print(f"ONNX Runtime: {len(exported)} exports run")

for f in failures:
    print("FAIL:", f)
print(f"{len(exported)} fixture exports and 2 builder graphs checked, {len(failures)} failures")
sys.exit(1 if failures else 0)
