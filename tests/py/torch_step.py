#!/usr/bin/python3
"""torch_step.py — one SGD step of hpk equals one SGD step of PyTorch on the same torchvision model and batch.

usage: torch_step.py HPK WORKDIR FAMILY BACKEND
The model (dropout 0, randomized BN statistics and affine parameters so nothing is trivially equal) is exported
to ONNX with its BatchNormalization nodes, trained one step by `hpk train --onnx` (plain cross-entropy, constant
lr, momentum, weight decay) and by torch.optim.SGD; every updated parameter and BN running statistic of hpk's
export must agree with PyTorch's, per tensor: ‖Δhpk − Δtorch‖₂ ≤ t·(‖Δtorch‖₂ + 4ε‖p‖₂) for the updates (the
second term is float32's own rounding of the stored parameter: some BN biases move by 1e-6 from weight decay
alone) and the same bound elementwise at 1e-3 (a ReLU6 input that lands within float32 noise of 0 or 6 flips its
derivative: float32 and float64 disagree on such single elements), t relative for the running statistics, where
t = max(1e-4, 1.5 × the same error of PyTorch's own float32 step on that tensor). PyTorch runs the step in float64 as the reference (its float32
step is reported beside it: float32 accumulation order alone differs by ~1e-4 between libraries)."""
import copy
import os, subprocess, sys, warnings
import numpy as np, onnx, onnx.numpy_helper, torch, torchvision

warnings.filterwarnings("ignore")
hpk, work, family, backend = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
torch.manual_seed(3)
make = {
    "mobilenetv2": lambda: torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=10, dropout=0.0),
    "mobilenetv3small": lambda: torchvision.models.mobilenet_v3_small(width_mult=0.5, num_classes=10, dropout=0.0),
    "mobilenetv3large": lambda: torchvision.models.mobilenet_v3_large(width_mult=0.5, num_classes=10, dropout=0.0),
}[family]
m = make()
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1); mod.running_var.uniform_(0.5, 1.5)
            mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
N, S = 8, 32
x = torch.randn(N, 3, S, S)
y = torch.randint(0, 10, (N,))
np.save(os.path.join(work, "x.npy"), x.numpy())
np.save(os.path.join(work, "y.npy"), y.numpy().astype(np.int64))
model_path = os.path.join(work, "model.onnx")
m.eval()
torch.onnx.export(m, x, model_path, opset_version=13, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=False,
                  training=torch.onnx.TrainingMode.PRESERVE)
before = {k: v.detach().clone() for k, v in m.state_dict().items()}

lr, mom, wd = 0.05, 0.9, 1e-4
run = os.path.join(work, "run")
subprocess.run(["rm", "-rf", run], check=True)
cmd = [hpk, "train", "--onnx", model_path, "--data", f"npy:{work}/x.npy,{work}/y.npy", "--out", run, "--steps", "1",
       "--batch", str(N), "--heads", "", "--lr", str(lr), "--momentum", str(mom), "--wd", str(wd),
       "--schedule", "const", "--no-augment", "--no-shuffle", "--backend", backend, "--quiet"]
r = subprocess.run(cmd, capture_output=True, text=True)
if r.returncode:
    sys.exit(f"hpk train failed ({r.returncode}): {r.stderr}")
out = os.path.join(work, "trained.onnx")
r = subprocess.run([hpk, "export", run, "-o", out], capture_output=True, text=True)
if r.returncode:
    sys.exit(f"hpk export failed ({r.returncode}): {r.stderr}")
got = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}


def torch_step(model, xb):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mom, weight_decay=wd)
    loss = torch.nn.functional.cross_entropy(model(xb), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), model.state_dict()


m64 = copy.deepcopy(m).double()
loss, after = torch_step(m64, x.double())
_, after32 = torch_step(m, x)
eps = float(np.finfo(np.float32).eps)

worst, worst32, bad, n = 0.0, 0.0, 0, 0
for k, v in after.items():
    if k.endswith("num_batches_tracked"):
        continue
    if k not in got:
        print(f"FAIL {k}: missing from hpk's export"); bad += 1; continue
    h, t, b = got[k].astype(np.float64), v.numpy().astype(np.float64), before[k].numpy().astype(np.float64)
    t32 = after32[k].numpy().astype(np.float64)
    if h.shape != t.shape:
        print(f"FAIL {k}: shape {h.shape} vs {t.shape}"); bad += 1; continue
    if "running" in k:
        scale = max(np.abs(t).max(), 1e-12)
        e, e32 = np.abs(h - t).max() / scale, np.abs(t32 - t).max() / scale
        emax = e
    else:
        dt = t - b
        nrm = lambda a: float(np.sqrt((a * a).sum()))
        scale = max(nrm(dt) + 4e4 * eps * nrm(t), 1e-30)  # 1e-4 of that = 1e-4‖Δ‖ + 4ε‖p‖
        e, e32 = nrm((h - b) - dt) / scale, nrm((t32 - b) - dt) / scale
        smax = max(np.abs(dt).max() + 4e4 * eps * np.abs(t).max(), 1e-30)
        emax = np.abs((h - b) - dt).max() / smax
    n += 1
    worst, worst32 = max(worst, e), max(worst32, e32)
    # 1e-4, or float32's own noise on this tensor if larger: hpk must be as close to the exact step as PyTorch's
    # float32 step is (with 1.5x slack), which for BN statistics over a few thousand values is ~1e-4 itself
    tol = max(1e-4, 1.5 * e32)
    if e > tol or emax > 1e-3:
        print(f"FAIL {k}: relative difference {e:.2e} (elementwise {emax:.2e}; PyTorch float32: {e32:.2e})"); bad += 1
print(f"{family} [{backend}]: {n} tensors compared after one SGD step (loss {loss:.4f}); worst relative "
      f"difference to PyTorch (float64) {worst:.2e}, {bad} over tolerance; PyTorch's own float32 step: {worst32:.2e}")
sys.exit(1 if bad else 0)
