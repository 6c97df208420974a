#!/usr/bin/python3
"""ort_fashion_eval.py — top-1 of an exported model on Fashion-MNIST's test set in ONNX Runtime (an independent
runtime: nothing of hpk runs here). Preprocessing as hpk's evaluation: 28 px padded by 2 to 32 (or kept at 28 if
the model takes 28), mean 0.2860, std 0.3530, the model's channel count (gray replicated).
usage: ort_fashion_eval.py MODEL.onnx [LIMIT]   (NODE_PATH must reach onnxruntime-node)"""
import gzip, os, subprocess, sys, tempfile
import numpy as np, onnx

model = sys.argv[1]
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
root = "/usr/share/datasets/fashion-mnist"
with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:limit]
with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)[:limit].astype(np.int64)
dims = [d.dim_value for d in onnx.load(model).graph.input[0].type.tensor_type.shape.dim]
c, s = dims[1], dims[2]
x = (images.astype(np.float32) / 255.0 - 0.2860) / 0.3530
pad = (s - 28) // 2
if pad > 0:
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), constant_values=(0 - 0.2860) / 0.3530)
x = np.repeat(x[:, None], c, axis=1).astype(np.float32)
here = os.path.dirname(os.path.abspath(__file__))
with tempfile.TemporaryDirectory() as d:
    xin, yout, jobs = os.path.join(d, "x.npy"), os.path.join(d, "y.npy"), os.path.join(d, "jobs.txt")
    np.save(xin, x)
    open(jobs, "w").write(f"{model} {xin} {yout}\n")
    subprocess.run(["node", os.path.join(here, "..", "tests", "py", "ort_batch.js"), jobs], check=True)
    logits = np.load(yout)
top1 = (logits.argmax(1) == labels).mean() * 100
print(f"ONNX Runtime on {model}: {len(labels)} Fashion-MNIST test images, top-1 {top1:.2f}%")
