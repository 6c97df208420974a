#!/usr/bin/python3
"""bench_inference.py — hpk vs ONNX Runtime inference throughput on the same model files.

Exports torchvision MobileNetV2 x1.0, MobileNetV3-small x1.0 and MobileNetV3-large x1.0 to ONNX (opset 13, eval
mode, BatchNormalization folded by the exporter, seeded random weights: nothing is downloaded), then, for each
model, runs `hpk bench MODEL --batch 32 --input-size 224 --threads 2` and ONNX Runtime (onnxruntime-node,
intraOpNumThreads 2, graph optimizations on, batch 32) alternately for several rounds in this one invocation, and
prints img/s for both (medians over rounds), the ratio hpk/ORT (median of the per-round ratios: pairing keeps the
ratio meaningful when the machine's speed drifts), and each one's peak RSS (/usr/bin/time -v).

Thread waiting (--wait): both runtimes spin-wait between parallel regions by default. On a shared machine, where
other processes compete for the cores, a spinning thread burns the time slice its partner needs and every
parallel region then waits a scheduler tick for a preempted thread (oneDNN's OpenMP regions split work statically,
so they suffer most). `passive` (the default here) makes both block instead: OMP_WAIT_POLICY=passive for hpk and
session.intra_op.allow_spinning=0 for ONNX Runtime; `spin` keeps both defaults; `both` runs the two settings.

Run with Debian's interpreter (torch and torchvision live there):
  NODE_PATH=/tmp/ortnpm/node_modules /usr/bin/python3 bench/bench_inference.py --hpk build/hpk [--rounds 5]
ONNX Runtime: npm install --ignore-scripts onnxruntime-node@1.30.0 (NODE_PATH points at its node_modules).
"""
import argparse, os, re, statistics, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["mobilenetv2", "mobilenetv3-small", "mobilenetv3-large"]


def export(outdir, names):
    import torch, torchvision
    makers = {"mobilenetv2": lambda: torchvision.models.mobilenet_v2(width_mult=1.0),
              "mobilenetv3-small": lambda: torchvision.models.mobilenet_v3_small(width_mult=1.0),
              "mobilenetv3-large": lambda: torchvision.models.mobilenet_v3_large(width_mult=1.0)}
    paths = {}
    for name in names:
        path = os.path.join(outdir, name + ".onnx")
        if not os.path.exists(path):
            torch.manual_seed(0)
            m = makers[name]().eval()
            torch.onnx.export(m, torch.randn(1, 3, 224, 224), path, opset_version=13, input_names=["input"],
                              output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                              do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
        paths[name] = path
    return paths


def timed(cmd, env=None):
    """runs cmd under /usr/bin/time -v; returns (img/s from its last 'img/s' line, peak RSS in MiB)"""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit("failed: %s\n%s%s" % (" ".join(cmd), p.stdout[-2000:], p.stderr[-2000:]))
    ips = [float(m.group(1)) for m in re.finditer(r"^([0-9.]+) img/s\s*$", p.stdout, re.M)]
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return ips[-1], int(rss.group(1)) / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hpk", default=os.path.join(HERE, "..", "build", "hpk"), help="the hpk executable")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--workdir", default="/tmp/hpk-bench", help="where the exported models go")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per model")
    ap.add_argument("--runs", type=int, default=3, help="timed runs inside each process (after one warm-up)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--input-size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--wait", choices=["passive", "spin", "both"], default="passive",
                    help="how idle threads wait (see above); default passive")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    names = a.models.split(",")
    paths = export(a.workdir, names)
    common = ["--batch", str(a.batch), "--input-size", str(a.input_size), "--threads", str(a.threads),
              "--runs", str(a.runs)]
    waits = ["passive", "spin"] if a.wait == "both" else [a.wait]
    for wait in waits:
        env = dict(os.environ)
        if wait == "passive":
            env["OMP_WAIT_POLICY"] = "passive"
        else:
            env.pop("OMP_WAIT_POLICY", None)
        spin = ["--spin", "0" if wait == "passive" else "1"]
        hpk_cmd = lambda m: [a.hpk, "bench", paths[m]] + common
        ort_cmd = lambda m: ["node", os.path.join(HERE, "ort_bench.js"), paths[m]] + common + spin
        print("== threads wait: %s" % wait)
        print("hpk: %s%s bench MODEL.onnx %s" % ("OMP_WAIT_POLICY=passive " if wait == "passive" else "", a.hpk,
                                                " ".join(common)))
        print("ORT: node %s MODEL.onnx %s\n" % (os.path.join(HERE, "ort_bench.js"), " ".join(common + spin)))
        rows = []
        for m in names:
            h, o, ratios, hr, orr = [], [], [], [], []
            for r in range(a.rounds):
                hi, hm = timed(hpk_cmd(m), env)
                oi, om = timed(ort_cmd(m), env)
                h.append(hi), o.append(oi), hr.append(hm), orr.append(om), ratios.append(hi / oi)
                print("  %-18s round %d: hpk %7.1f img/s  ORT %7.1f img/s  ratio %.2f" % (m, r + 1, hi, oi, hi / oi),
                      flush=True)
            rows.append((m, statistics.median(h), statistics.median(o), statistics.median(ratios), max(hr), max(orr)))
        print("\n%-18s %12s %12s %8s %14s %14s" % ("model", "hpk img/s", "ORT img/s", "hpk/ORT", "hpk peak MiB",
                                                  "ORT peak MiB"))
        for m, hi, oi, ra, hm, om in rows:
            print("%-18s %12.1f %12.1f %8.2f %14.0f %14.0f" % (m, hi, oi, ra, hm, om))
        print("(batch %d, %d px, %d threads, threads wait %s; medians over %d alternating rounds of %d timed runs "
              "each)\n" % (a.batch, a.input_size, a.threads, wait, a.rounds, a.runs), flush=True)


if __name__ == "__main__":
    main()
