#!/usr/bin/python3
"""bench_train.py — hpk vs PyTorch training throughput (forward + backward + SGD update), and hpk's head overhead.

For MobileNetV2 ×1.0, MobileNetV3-small ×1.0 and MobileNetV3-large ×1.0 (1000 classes, batch 32, 224 px,
2 threads): `hpk bench --model NAME --train` (plain cross-entropy, the same architecture and parameter count as
torchvision's) and bench/torch_train_bench.py (torchvision's model, torch.optim.SGD) alternate for several rounds
in this one invocation; the table gives img/s for both (medians), the ratio hpk/PyTorch (median of the per-round
ratios, so machine-speed drift cancels) and each one's peak RSS. With --heads it instead times hpk's training
step with and without the default heads (fc,stage5,stage4, poly) and prints the overhead.
usage: /usr/bin/python3 bench/bench_train.py [--hpk build/hpk] [--rounds 3] [--models ...] [--heads]"""
import argparse, os, re, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(cmd):
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), p.stdout[-2000:], p.stderr[-2000:]))
    ips = [float(m.group(1)) for m in re.finditer(r"^([0-9.]+) img/s\s*$", p.stdout, re.M)]
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return ips[-1], int(rss.group(1)) / 1024.0


ap = argparse.ArgumentParser()
ap.add_argument("--hpk", default=os.path.join(HERE, "..", "build", "hpk"))
ap.add_argument("--models", default="mobilenetv2,mobilenetv3-small,mobilenetv3-large")
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--steps", type=int, default=3, help="timed steps per process (after one warm-up)")
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--input-size", type=int, default=224)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--width", default="1.0")
ap.add_argument("--heads", action="store_true", help="measure the heads' overhead instead of the PyTorch ratio")
a = ap.parse_args()

rows = []
for model in a.models.split(","):
    hpk = [a.hpk, "bench", "--model", model, "--width", a.width, "--train", "--batch", str(a.batch), "--input-size",
           str(a.input_size), "--threads", str(a.threads), "--runs", str(a.steps)]
    if a.heads:
        peer = hpk + ["--heads", "fc,stage5,stage4"]
        base = hpk + ["--heads", ""]
    else:
        peer = ["/usr/bin/python3", os.path.join(HERE, "torch_train_bench.py"), model, a.width, str(a.batch),
                str(a.input_size), str(a.threads), str(a.steps)]
        base = hpk
    h, p, ratios, hr, pr = [], [], [], [], []
    for r in range(a.rounds):
        x, xm = timed(base)
        y, ym = timed(peer)
        h.append(x); p.append(y); ratios.append(x / y); hr.append(xm); pr.append(ym)
        print(f"{model} round {r + 1}: {'no heads' if a.heads else 'hpk'} {x:.2f} img/s ({xm:.0f} MiB), "
              f"{'heads' if a.heads else 'PyTorch'} {y:.2f} img/s ({ym:.0f} MiB)", flush=True)
    rows.append((model, statistics.median(h), statistics.median(p), statistics.median(ratios), max(hr), max(pr)))

print()
if a.heads:
    print(f"training step with vs without hpk heads (fc,stage5,stage4 poly), batch {a.batch}, {a.input_size} px, "
          f"{a.threads} threads")
    print("| model | no heads img/s | with heads img/s | overhead |\n|---|---|---|---|")
    for m, x, y, r, _, _ in rows:
        print(f"| {m} ×{a.width} | {x:.2f} | {y:.2f} | {100 * (r - 1):+.1f}% |")
else:
    print(f"training throughput, batch {a.batch}, {a.input_size} px, {a.threads} threads, median of {a.rounds} "
          f"alternating rounds")
    print("| model | hpk img/s | PyTorch img/s | hpk/PyTorch | hpk peak RSS | PyTorch peak RSS |\n|---|---|---|---|---|---|")
    for m, x, y, r, xm, ym in rows:
        print(f"| {m} ×{a.width} | {x:.2f} | {y:.2f} | {r:.2f}× | {xm:.0f} MiB | {ym:.0f} MiB |")
