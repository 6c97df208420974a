#!/usr/bin/python3
"""opt_passes.py — `hpk opt` on the bundled torchvision fixtures: every pass (and all of them chained) keeps the
outputs (hpk opt --check, and ONNX Runtime on the result against its stored outputs, 1e-4), does what it says
(no BatchNormalization left after fold-bn, no Identity after identity-elim), and no passes is a faithful round
trip (same nodes, bit-identical initializers). onnx.checker accepts every result.
usage: opt_passes.py HPK OUTDIR"""
import glob, json, os, subprocess, sys
import numpy as np, onnx, onnx.numpy_helper

hpk, out = sys.argv[1], sys.argv[2]
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fixtures")
ort_batch = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_batch.js")
os.makedirs(out, exist_ok=True)
bad = 0


def fail(msg):
    global bad
    bad += 1
    print("FAIL " + msg)


jobs = []
for model in sorted(glob.glob(os.path.join(here, "*.onnx"))):
    tag = os.path.basename(model)[:-5]
    xin = os.path.join(here, tag.split("_op")[0] + ".input.npy")
    for passes in ["", "identity-elim", "fold-bn", "dce", "const-fold", "remove-heads", "find-stages",
                   "identity-elim,fold-bn,dce,const-fold"]:
        res = os.path.join(out, f"{tag}.{passes.replace(',', '+') or 'none'}.onnx")
        args = [hpk, "opt", model, "-o", res, "--check"] + (["--passes", passes] if passes else [])
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode or "ok" not in r.stdout:
            fail(f"{tag} --passes '{passes}': exit {r.returncode}: {r.stderr.strip()} {r.stdout.strip()}")
            continue
        ops = json.loads(subprocess.run([hpk, "inspect", res, "--json"], capture_output=True, text=True).stdout)["ops"]
        if "fold-bn" in passes and "BatchNormalization" in ops:
            fail(f"{tag} --passes '{passes}': {ops['BatchNormalization']} BatchNormalization left")
        if "identity-elim" in passes and "Identity" in ops:
            fail(f"{tag} --passes '{passes}': {ops['Identity']} Identity left")
        try:
            onnx.checker.check_model(onnx.load(res), full_check=True)
        except Exception as e:
            fail(f"{tag} --passes '{passes}': onnx.checker: {e}")
        if not passes:
            a, b = onnx.load(model).graph, onnx.load(res).graph
            ia = {t.name: onnx.numpy_helper.to_array(t).tobytes() for t in a.initializer}
            ib = {t.name: onnx.numpy_helper.to_array(t).tobytes() for t in b.initializer}
            # Constant nodes become initializers on import: compare what the source holds either way
            for n in a.node:
                if n.op_type == "Constant":
                    ia[n.output[0]] = onnx.numpy_helper.to_array(n.attribute[0].t).tobytes()
            if ia != ib:
                fail(f"{tag}: the round trip changed initializers")
            na = [(n.op_type, list(n.input), list(n.output)) for n in a.node if n.op_type != "Constant"]
            nb = [(n.op_type, list(n.input), list(n.output)) for n in b.node]
            if na != nb:
                fail(f"{tag}: the round trip changed the nodes")
        jobs.append((res, xin, os.path.join(here, tag + ".ort.npy"), res[:-5] + ".ort.npy"))
with open(os.path.join(out, "jobs.txt"), "w") as f:
    for res, xin, _, y in jobs:
        f.write(f"{res} {xin} {y}\n")
subprocess.run(["node", ort_batch, os.path.join(out, "jobs.txt")], check=True)
for res, _, want, y in jobs:
    d = float(np.abs(np.load(y) - np.load(want)).max())
    if not d <= 1e-4:
        fail(f"{os.path.basename(res)}: ONNX Runtime on the result differs from the original by {d:.2e}")
print(f"{len(jobs)} optimized models checked, {bad} failures")
sys.exit(1 if bad else 0)
