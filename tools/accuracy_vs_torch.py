#!/usr/bin/python3
"""accuracy_vs_torch.py — the README's accuracy check: the same recipe trained by hpk and by PyTorch.

MobileNetV2 ×0.5 (1 input channel, 10 classes), plain cross-entropy, Fashion-MNIST padded to 32 px (pad 2,
random horizontal flip, mean 0.2860 std 0.3530), batch 128, EPOCHS epochs, the paper's recipe: SGD momentum 0.9,
weight decay 1e-4, lr 0.05 with one cosine period to 0 (per step), the same seed for both.
usage: tools/accuracy_vs_torch.py [--hpk build/hpk] [--epochs 3] [--seed 1] [--threads 2] [--out runs/acc]
       [--skip-torch | --skip-hpk]"""
import argparse, gzip, json, math, os, subprocess, sys, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--hpk", default=os.path.join(os.path.dirname(__file__), "..", "build", "hpk"))
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--out", default="runs/acc")
ap.add_argument("--skip-torch", action="store_true")
ap.add_argument("--skip-hpk", action="store_true")
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
results = {}

if not a.skip_hpk:
    run = os.path.join(a.out, "hpk")
    subprocess.run(["rm", "-rf", run], check=True)
    t0 = time.time()
    subprocess.run([a.hpk, "train", "--model", "mobilenetv2", "--width", "0.5", "--data", "fashion-mnist",
                    "--heads", "", "--epochs", str(a.epochs), "--batch", str(a.batch), "--lr", "0.05",
                    "--momentum", "0.9", "--wd", "1e-4", "--schedule", "cosine", "--seed", str(a.seed),
                    "--threads", str(a.threads), "--out", run, "--log-every", "100"], check=True)
    secs = time.time() - t0
    r = subprocess.run([a.hpk, "eval", run, "--data", "fashion-mnist:test", "--json"], capture_output=True,
                       text=True, check=True)
    ev = json.loads(r.stdout.splitlines()[0])
    results["hpk"] = {"top1": ev["top1"], "top5": ev["top5"], "train_seconds": secs}

if not a.skip_torch:
    import torch, torchvision
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    root = "/usr/share/datasets/fashion-mnist"

    def load(split):
        with gzip.open(os.path.join(root, f"{split}-images-idx3-ubyte.gz")) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(os.path.join(root, f"{split}-labels-idx1-ubyte.gz")) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        x = np.pad(x, ((0, 0), (2, 2), (2, 2)))  # pad 2 with black pixels, as transforms.Pad(2)
        return torch.from_numpy(((x.astype(np.float32) / 255 - 0.2860) / 0.3530)[:, None]), torch.from_numpy(y)

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    m = torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=10)
    c0 = m.features[0][0]
    m.features[0][0] = torch.nn.Conv2d(1, c0.out_channels, 3, 2, 1, bias=False)
    torch.nn.init.kaiming_normal_(m.features[0][0].weight, mode="fan_out")
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    steps_per_epoch = len(xtr) // a.batch
    total = steps_per_epoch * a.epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    t0 = time.time()
    for epoch in range(a.epochs):
        m.train()
        perm = torch.randperm(len(xtr))
        for i in range(steps_per_epoch):
            idx = perm[i * a.batch:(i + 1) * a.batch]
            xb = xtr[idx].clone()
            flip = torch.rand(len(idx)) < 0.5
            xb[flip] = xb[flip].flip(-1)
            loss = torch.nn.functional.cross_entropy(m(xb), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if i % 100 == 0:
                print(f"torch epoch {epoch + 1} step {i}/{steps_per_epoch} loss {loss.item():.4f}", flush=True)
    secs = time.time() - t0
    m.eval()
    with torch.no_grad():
        logits = torch.cat([m(xte[i:i + 500]) for i in range(0, len(xte), 500)])
    top1 = (logits.argmax(1) == yte).float().mean().item() * 100
    top5 = (logits.topk(5, 1).indices == yte[:, None]).any(1).float().mean().item() * 100
    results["pytorch"] = {"top1": top1, "top5": top5, "train_seconds": secs}

json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=1)
print(f"\nMobileNetV2 x0.5, Fashion-MNIST 32 px, plain CE, batch {a.batch}, {a.epochs} epochs, seed {a.seed}:")
for k, v in results.items():
    print(f"  {k:8s} test top-1 {v['top1']:.2f}%  top-5 {v['top5']:.2f}%  (training {v['train_seconds']:.0f} s)")
