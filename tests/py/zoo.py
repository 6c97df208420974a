#!/usr/bin/python3
"""zoo.py — torchvision exports at ONNX opsets 9..17 through `hpk run`, against ONNX Runtime (1e-4).

usage: zoo.py HPK BUILD_DIR FAMILY [BACKEND...]
FAMILY: mobilenetv2 | mobilenetv3small | mobilenetv3large | resnet18. Weights are seeded random (nothing is
downloaded); BN statistics are randomized so a loader that ignores them is caught. Odd opsets keep BN nodes
(training=PRESERVE, no constant folding), even ones fold them, so both forms are covered at several opsets."""
import os, subprocess, sys, warnings
import numpy as np, torch, torchvision

warnings.filterwarnings("ignore")
hpk, build, family = sys.argv[1], sys.argv[2], sys.argv[3]
backends = sys.argv[4:] or ["ref"]
here = os.path.dirname(os.path.abspath(__file__))
make = {
    "mobilenetv2": lambda: torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=10),
    "mobilenetv3small": lambda: torchvision.models.mobilenet_v3_small(width_mult=0.75, num_classes=10),
    "mobilenetv3large": lambda: torchvision.models.mobilenet_v3_large(width_mult=0.5, num_classes=10),
    "resnet18": lambda: torchvision.models.resnet18(num_classes=10),
}[family]
out = os.path.join(build, "zoo", family)
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
m = make().eval()
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        mod.running_mean.uniform_(-0.1, 0.1); mod.running_var.uniform_(0.5, 1.5)
x = torch.randn(2, 3, 64, 64)
xin = os.path.join(out, "input.npy")
np.save(xin, x.numpy())
jobs = []
for opset in range(9, 18):
    folded = opset % 2 == 0
    p = os.path.join(out, f"op{opset}{'' if folded else '_bn'}.onnx")
    if not os.path.exists(p):
        torch.onnx.export(m, x, p, opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=folded,
                          training=torch.onnx.TrainingMode.EVAL if folded else torch.onnx.TrainingMode.PRESERVE)
    jobs.append((opset, p, p[:-5] + ".ort.npy"))
with open(os.path.join(out, "jobs.txt"), "w") as f:
    for _, p, o in jobs:
        f.write(f"{p} {xin} {o}\n")
subprocess.run(["node", os.path.join(here, "ort_batch.js"), os.path.join(out, "jobs.txt")], check=True)
with torch.no_grad():
    ref_torch = m(x).numpy()
failures = 0
for opset, p, o in jobs:
    ort_y = np.load(o)
    assert np.abs(ort_y - ref_torch).max() < 1e-3, "ORT disagrees with torch: bad export?"
    for be in backends:
        y = p[:-5] + f".hpk_{be}.npy"
        r = subprocess.run([hpk, "run", p, "--input", xin, "--output", y, "--backend", be], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {os.path.basename(p)} [{be}]: exit {r.returncode}: {r.stderr.strip()}")
            failures += 1
            continue
        d = np.abs(np.load(y) - ort_y).max()
        ok = d <= 1e-4
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {family} opset {opset} {'folded' if opset % 2 == 0 else 'with BN'} [{be}]: max abs diff vs ORT {d:.2e}")
sys.exit(1 if failures else 0)
