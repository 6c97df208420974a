#!/usr/bin/python3
"""ablation.py — the paper's ablations (Tables 1, 3, 4, 5) with hpk on the data available here.

usage: tools/ablation.py [--hpk build/hpk] [--data fashion-mnist] [--val fashion-mnist:test] [--model mobilenetv2]
                         [--width 0.5] [--epochs 3] [--batch 128] [--seeds 1,2,3] [--tables 1,3,4,5]
                         [--threads 2] [--out ablation]
Every configuration is trained with each seed (runs already finished are reused, so an interrupted ablation
continues where it stopped), evaluated with `hpk eval` on --val, and summarized as mean ± std of the test top-1
in OUT/results.md, OUT/results.csv and a plot OUT/results.png.
  Table 1  plain cross-entropy vs the default heads (fc, stage5, stage4, poly d=2 c=1)
  Table 3  head sets and logit kinds: fc only, +stage5, +stage4, +stage3; linear ("CE") and rbf heads
  Table 4  polynomial kernel d ∈ {2, 3} × c ∈ {0.5, 0.8, 1}
  Table 5  head pooling: average vs max
  Table D  hpk's defaults: the scale s of normalized heads (1, 2, 4, 8, 16) and the paper's unnormalized form
           (which diverges: its NaN is reported as a failed run, top-1 0)"""
import argparse, csv, json, os, statistics, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--hpk", default=os.path.join(os.path.dirname(__file__), "..", "build", "hpk"))
ap.add_argument("--data", default="fashion-mnist")
ap.add_argument("--val", default="fashion-mnist:test")
ap.add_argument("--model", default="mobilenetv2")
ap.add_argument("--width", default="0.5")
ap.add_argument("--epochs", default="3")
ap.add_argument("--batch", default="128")
ap.add_argument("--seeds", default="1,2,3")
ap.add_argument("--tables", default="1,3,4,5,D")
ap.add_argument("--threads", default="2")
ap.add_argument("--extra", default="", help="more hpk train flags, e.g. '--scale 8'")
ap.add_argument("--out", default="ablation")
a = ap.parse_args()

HEADS = "fc,stage5,stage4"
configs = []  # (table, label, flags)
tables = set(a.tables.split(","))
if "1" in tables:
    configs += [("1", "cross-entropy (no heads)", ["--heads", ""]),
                ("1", "hpk heads: fc,stage5,stage4 poly d=2 c=1", ["--heads", HEADS])]
if "3" in tables:
    configs += [("3", "fc (poly)", ["--heads", "fc"]),
                ("3", "fc,stage5 (poly)", ["--heads", "fc,stage5"]),
                ("3", "fc,stage5,stage4 (poly)", ["--heads", HEADS]),
                ("3", "fc,stage5,stage4,stage3 (poly)", ["--heads", HEADS + ",stage3"]),
                ("3", "fc,stage5,stage4 (linear: the paper's CE heads)", ["--heads", HEADS, "--head-kind", "linear"]),
                ("3", "fc,stage5,stage4 (rbf)", ["--heads", HEADS, "--head-kind", "rbf"])]
if "4" in tables:
    for d in ("2", "3"):
        for c in ("0.5", "0.8", "1"):
            flags = ["--heads", HEADS] if (d, c) == ("2", "1") else ["--heads", HEADS, "--degree", d, "--coef", c]
            configs.append(("4", f"poly d={d} c={c}", flags))
if "D" in tables:
    configs += [("D", "cross-entropy (no heads)", ["--heads", ""]),
                ("D", "unnormalized f and w, s=1 (the paper's form)", ["--heads", HEADS, "--no-normalize", "--scale", "1"])]
    configs += [("D", f"normalized, s={s}", ["--heads", HEADS] + ([] if s == "2" else ["--scale", s]))
                for s in ("1", "2", "4", "8", "16")]
if "5" in tables:
    configs += [("5", "average pooling", ["--heads", HEADS]),
                ("5", "max pooling", ["--heads", HEADS, "--pool", "max"])]

os.makedirs(a.out, exist_ok=True)
seeds = [s for s in a.seeds.split(",") if s]
results = {}  # run key -> top1


def run_key(flags, seed):
    return "run_" + "_".join(f.strip("-").replace(",", "+").replace(".", "p") or "none" for f in flags) + f"_s{seed}"


def train_and_eval(flags, seed):
    key = run_key(flags, seed)
    rundir = os.path.join(a.out, key)
    done = os.path.join(rundir, "eval.json")
    if os.path.exists(done):
        return json.load(open(done))["top1"]
    if os.path.exists(rundir):
        subprocess.run(["rm", "-rf", rundir], check=True)
    cmd = [a.hpk, "train", "--model", a.model, "--width", a.width, "--data", a.data, "--epochs", a.epochs,
           "--batch", a.batch, "--seed", seed, "--threads", a.threads, "--out", rundir, "--quiet"] + flags + a.extra.split()
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode == 1 and ("NaN" in r.stderr or "Inf" in r.stderr):  # a diverged run is a result, not an error
        res = {"top1": 0.0, "diverged": r.stderr.strip(), "train_seconds": time.time() - t0}
        json.dump(res, open(done, "w"))
        print(f"  {key}: diverged: {r.stderr.strip()}", flush=True)
        return 0.0
    if r.returncode:
        sys.exit(f"ablation: {' '.join(cmd)} failed:\n{r.stderr}")
    r = subprocess.run([a.hpk, "eval", rundir, "--data", a.val, "--json", "--threads", a.threads],
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"ablation: hpk eval {rundir} failed:\n{r.stderr}")
    res = json.loads(r.stdout.splitlines()[0])
    res["train_seconds"] = time.time() - t0
    json.dump(res, open(done, "w"))
    print(f"  {key}: top-1 {res['top1']:.2f}% ({res['train_seconds']:.0f} s)", flush=True)
    return res["top1"]


rows = []
seen = {}
for table, label, flags in configs:
    k = tuple(flags)
    if k not in seen:
        seen[k] = [train_and_eval(flags, s) for s in seeds]
    v = seen[k]
    mean = statistics.mean(v)
    std = statistics.stdev(v) if len(v) > 1 else 0.0
    rows.append((table, label, mean, std, v))
    print(f"Table {table}: {label}: {mean:.2f} ± {std:.2f} ({', '.join(f'{x:.2f}' for x in v)})", flush=True)

with open(os.path.join(a.out, "results.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["table", "configuration", "mean_top1", "std_top1"] + [f"seed_{s}" for s in seeds])
    for t, l, m, s, v in rows:
        w.writerow([t, l, f"{m:.3f}", f"{s:.3f}"] + [f"{x:.3f}" for x in v])
with open(os.path.join(a.out, "results.md"), "w") as f:
    f.write(f"{a.model} ×{a.width}, {a.data} → {a.val}, {a.epochs} epochs, batch {a.batch}, seeds {a.seeds} "
            f"{a.extra}\n\n| table | configuration | test top-1 (mean ± std) | per seed |\n|---|---|---|---|\n")
    for t, l, m, s, v in rows:
        cell = "diverged (NaN loss)" if not any(v) else f"{m:.2f} ± {s:.2f}"
        f.write(f"| {t} | {l} | {cell} | {', '.join('NaN' if x == 0 else f'{x:.2f}' for x in v)} |\n")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    labels = [f"T{t}: {l}" for t, l, _, _, _ in rows]
    ax.barh(range(len(rows)), [r[2] for r in rows], xerr=[r[3] for r in rows], color="#4878a8", capsize=3)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ok = [r for r in rows if any(r[4])] or rows  # diverged runs count as 0: keep them out of the axis range
    lo = max(0, min(r[2] - r[3] for r in ok) - 2)
    ax.set_xlim(lo, min(100, max(r[2] + r[3] for r in ok) + 1))
    for i, r in enumerate(rows):
        if not any(r[4]):
            ax.text(lo + 0.1, i, "diverged (NaN loss)", va="center", fontsize=8, color="#a83232")
    base = [r[2] for r in rows if r[1].startswith("cross-entropy")]
    if base:
        ax.axvline(base[0], color="#888888", linestyle="--", linewidth=1, label="cross-entropy, no heads")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("test top-1 (%), mean ± std over seeds")
    ax.set_title(f"hpk ablations: {a.model} ×{a.width} on {a.data}, {a.epochs} epochs")
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "results.png"), dpi=110)
except ImportError:
    print("ablation: matplotlib is missing; no plot")
print(f"ablation: wrote {a.out}/results.md, results.csv, results.png")
