#!/usr/bin/python3
"""train_cli.py — hpk train/eval/export end to end, and the trainer's promises under faults.

usage: train_cli.py HPK WORKDIR CASE
CASE:
  learns        a short run on Fashion-MNIST lowers the loss; eval of the run equals eval of its export; the
                export passes onnx.checker and has the plain backbone's parameters and MACs (fc linear)
  resume        SIGINT mid-run exits 0 with a checkpoint; --resume finishes bit-identical to an uninterrupted run
  kill9         kill -9 at random moments of a run with frequent checkpoints, repeated; every restart resumes and
                the finished run equals an uninterrupted one (reference backend: bit-exact)
  corrupt       truncated and bit-flipped checkpoints are refused with a reason by --resume, eval and export
  diverge       a huge learning rate stops with a message naming NaN/Inf; the last good checkpoint is kept
  diskfull      a file-size limit during a checkpoint write keeps the old checkpoint and says so
  baddata       a folder dataset with corrupt, empty, truncated and absurd-dimension images trains; the bad
                files are skipped, counted and named
  budget        a model or dataset over --mem-budget is refused before allocating
  heads         heads by tensor name, every head kind and pooling train; an unknown head name is a usage error
Runs use the reference backend unless HPK_TEST_BACKEND says otherwise (bit-exactness needs a deterministic one)."""
import os, random, shutil, signal, struct, subprocess, sys, time
import numpy as np

hpk, work, case = sys.argv[1:4]
backend = os.environ.get("HPK_TEST_BACKEND", "ref")
os.makedirs(work, exist_ok=True)
fails = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        fails.append(what)


def run(args, **kw):
    return subprocess.run([hpk] + args, capture_output=True, text=True, **kw)


def tiny_data():
    """a small npy dataset: 256 gray 32x32 images of 4 classes (a bright square in one quadrant + noise)"""
    d = os.path.join(work, "tiny")
    if not os.path.exists(d + "/x.npy"):
        os.makedirs(d, exist_ok=True)
        rng = np.random.default_rng(0)
        y = rng.integers(0, 4, 256)
        x = rng.integers(0, 60, (256, 32, 32, 1)).astype(np.uint8)
        for i, c in enumerate(y):
            r, q = divmod(int(c), 2)
            x[i, 4 + 14 * r:14 + 14 * r, 4 + 14 * q:14 + 14 * q, 0] += 150
        np.save(d + "/x.npy", x)
        np.save(d + "/y.npy", y.astype(np.int64))
    return f"npy:{d}/x.npy,{d}/y.npy"


def train_args(rundir, steps=12, extra=()):
    return ["train", "--model", "mobilenetv3-small", "--width", "0.5", "--data", tiny_data(), "--steps", str(steps),
            "--batch", "16", "--backend", backend, "--out", rundir, "--log-every", "2", "--seed", "7"] + list(extra)


def fresh(name):
    p = os.path.join(work, name)
    shutil.rmtree(p, ignore_errors=True)
    return p


def ckpt_bytes(rundir):
    return open(os.path.join(rundir, "checkpoint.hpk"), "rb").read()


if case == "learns":
    rd = fresh("learns")
    r = run(["train", "--model", "mobilenetv2", "--width", "0.5", "--data", "fashion-mnist", "--steps", "60",
             "--batch", "32", "--lr", "0.05", "--backend", backend, "--out", rd, "--log-every", "10", "--heads", "fc,stage5,stage4",
             "--head-kind", "linear"])
    check(r.returncode == 0, f"train exits 0 ({r.stderr.strip()[-200:]})")
    rows = [l.split(",") for l in open(rd + "/metrics.csv").read().splitlines()]
    hdr, rows = rows[0], rows[1:]
    li = hdr.index("loss_fc")
    first, last = float(rows[0][li]), float(rows[-1][li])
    check(last < first * 0.8, f"the main loss falls: {first:.3f} -> {last:.3f}")
    check(all(h in hdr for h in ("step", "epoch", "loss", "lr", "train_top1", "train_top5", "val_top1", "val_top5",
                                 "img_per_s", "loss_stage5", "loss_stage4")), "metrics.csv has every column")
    out = rd + "/model.onnx"
    r = run(["export", rd, "-o", out])
    check(r.returncode == 0, "export exits 0")
    e1 = run(["eval", rd, "--data", "fashion-mnist:test", "--backend", backend]).stdout.splitlines()[-1]
    e2 = run(["eval", out, "--data", "fashion-mnist:test", "--backend", backend]).stdout.splitlines()[-1]
    check(e1 == e2 and e1.startswith("top-1 "), f"eval of the run equals eval of its export ({e1} / {e2})")
    import json
    st = json.loads(run(["inspect", out, "--json"]).stdout)
    base = fresh("learns_base.onnx")
    run(["model", "mobilenetv2", "--width", "0.5", "--classes", "10", "--input-size", "32", "--in-channels", "1",
         "-o", base])
    sb = json.loads(run(["inspect", base, "--json"]).stdout)
    check(st["params"] == sb["params"] and st["macs"] == sb["macs"],
          f"the export has the backbone's parameters and MACs ({st['params']} / {sb['params']}, {st['macs']} / {sb['macs']})")
    check(not any(k.startswith("head") for k in st["ops"]) and "SoftmaxCrossEntropyLoss" not in st["ops"],
          "no trace of the heads or the losses in the export")
    import onnx
    try:
        onnx.checker.check_model(onnx.load(out), full_check=True)
        check(True, "onnx.checker accepts the export")
    except Exception as ex:
        check(False, f"onnx.checker accepts the export: {ex}")

elif case == "resume":
    a = fresh("resume_a")
    r = run(train_args(a, 16))
    check(r.returncode == 0, "uninterrupted run")
    b = fresh("resume_b")
    p = subprocess.Popen([hpk] + train_args(b, 16), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # interrupt once a few steps are logged
    t0 = time.time()
    while time.time() - t0 < 60:
        if os.path.exists(b + "/metrics.csv") and len(open(b + "/metrics.csv").read().splitlines()) >= 3:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate()
    check(p.returncode == 0, f"SIGINT: exit 0 ({err.strip()[-200:]})")
    check("interrupted at step" in out or "done" in out, "SIGINT: says where it stopped")
    r = run(["train", "--out", b, "--resume", "--backend", backend])
    check(r.returncode == 0, f"--resume completes ({r.stderr.strip()[-200:]})")
    check(ckpt_bytes(a) == ckpt_bytes(b), "the resumed run's checkpoint is bit-identical to the uninterrupted one")
    r = run(train_args(b, 16))
    check(r.returncode == 2 and "--resume" in r.stderr, "a second run into the same folder is refused (use --resume)")

elif case == "kill9":
    a = fresh("kill_a")
    t0 = time.time()
    check(run(train_args(a, 24, ["--checkpoint-every", "1"])).returncode == 0, "uninterrupted run")
    full = time.time() - t0  # kill moments scale with this machine's (or sanitizer build's) speed
    b = fresh("kill_b")
    rng = random.Random(5)
    kills = restarts = 0
    first = True
    for attempt in range(60):
        args = train_args(b, 24, ["--checkpoint-every", "1"]) if first else ["train", "--out", b, "--resume", "--backend", backend]
        p = subprocess.Popen([hpk] + args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.08, 0.4) * full)
        if p.poll() is None:
            p.kill()
            kills += 1
        rc = p.wait()
        err = p.stderr.read()
        if rc == 0:
            break
        if rc == 1 and "no checkpoint" in err.lower() or (first and not os.path.exists(b + "/checkpoint.hpk")):
            shutil.rmtree(b, ignore_errors=True)  # killed before its first checkpoint: start over
            continue
        check(rc == -9, f"only kill -9 stops a run (exit {rc}: {err.strip()[-200:]})")
        if rc != -9:
            break
        first = False
        restarts += 1
    check(rc == 0, f"the run completes after {kills} kills and {restarts} restarts")
    check(ckpt_bytes(a) == ckpt_bytes(b), "the final checkpoint equals an uninterrupted run's")

elif case == "corrupt":
    a = fresh("corrupt")
    check(run(train_args(a, 4)).returncode == 0, "a run to corrupt")
    good = ckpt_bytes(a)
    variants = {"truncated": good[: len(good) // 2], "bit-flipped": bytearray(good)}
    variants["bit-flipped"][len(good) // 3] ^= 0x10
    for name, data in variants.items():
        open(a + "/checkpoint.hpk", "wb").write(bytes(data))
        for args in (["train", "--out", a, "--resume"], ["eval", a, "--data", tiny_data()],
                     ["export", a, "-o", a + "/x.onnx"]):
            r = run(args)
            msg = r.stderr.strip()
            check(r.returncode == 1 and "checkpoint.hpk" in msg and len(msg.splitlines()) == 1,
                  f"{name} checkpoint refused by hpk {args[0]}: {msg}")
    open(a + "/checkpoint.hpk", "wb").write(good)
    check(run(["eval", a, "--data", tiny_data()]).returncode == 0, "the intact checkpoint still loads")

elif case == "diverge":
    a = fresh("diverge")
    r = run(train_args(a, 30, ["--lr", "1e6", "--checkpoint-every", "1", "--heads", ""]))
    msg = r.stderr.strip()
    check(r.returncode == 1 and ("NaN" in msg or "Inf" in msg), f"divergence is an error naming NaN/Inf: {msg}")
    if os.path.exists(a + "/checkpoint.hpk"):
        r = run(["eval", a, "--data", tiny_data()])
        check(r.returncode == 0, "the kept checkpoint is a good one (it loads and evaluates)")

elif case == "diskfull":
    import resource
    a = fresh("diskfull")
    p = subprocess.Popen([hpk] + train_args(a, 400, ["--checkpoint-every", "50"]), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while time.time() - t0 < 120 and not os.path.exists(a + "/checkpoint.hpk"):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    p.communicate()
    check(p.returncode == 0 and os.path.exists(a + "/checkpoint.hpk"), "a run stopped after a checkpoint")
    good = ckpt_bytes(a)
    limit = len(good) // 2  # room for the metrics, not for a checkpoint

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = subprocess.run([hpk, "train", "--out", a, "--resume", "--backend", backend], capture_output=True, text=True,
                       preexec_fn=cap)
    msg = r.stderr.strip()
    check(r.returncode == 1 and ("limit" in msg or "disk" in msg or "space" in msg),
          f"a checkpoint write over the file-size limit is an error: {msg}")
    check("kept" in msg, "the message says the previous checkpoint is kept")
    check(ckpt_bytes(a) == good, "the previous checkpoint is intact")
    leftovers = [f for f in os.listdir(a) if f.startswith(".")]
    check(not leftovers, f"no temp file is left behind ({leftovers})")

elif case == "baddata":
    d = fresh("imgs")
    for c in ("cat", "dog"):
        os.makedirs(f"{d}/{c}")
    try:
        from PIL import Image
    except ImportError:
        Image = None
    rng = np.random.default_rng(1)
    import zlib
    def png(path, w, h, pix):
        raw = b"".join(b"\x00" + pix[y].tobytes() for y in range(h))
        def chunk(t, b):
            return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
        open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                               + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    for c in ("cat", "dog"):
        for i in range(12):
            png(f"{d}/{c}/{i}.png", 40, 40, rng.integers(0, 255, (40, 40), dtype=np.uint8))
    good = open(f"{d}/cat/0.png", "rb").read()
    open(f"{d}/cat/zero.png", "wb").close()
    open(f"{d}/cat/truncated.png", "wb").write(good[: len(good) // 2])
    open(f"{d}/dog/garbage.jpg", "wb").write(b"\xff\xd8\xff" + bytes(rng.integers(0, 255, 500, dtype=np.uint8)))
    hdr = bytearray(good)
    struct.pack_into(">II", hdr, 16, 100000, 100000)
    open(f"{d}/dog/huge.png", "wb").write(bytes(hdr))
    a = fresh("baddata_run")
    r = run(["train", "--model", "mobilenetv3-small", "--width", "0.5", "--data", f"folder:{d}", "--input-size", "32",
             "--steps", "6", "--batch", "8", "--backend", backend, "--out", a])
    out = r.stdout + r.stderr
    check(r.returncode == 0, f"training on a folder with bad images succeeds ({r.stderr.strip()[-200:]})")
    check("skipped 4" in out and "zero.png" in out, f"the 4 bad files are counted and named: "
          f"{[l for l in out.splitlines() if 'skipped' in l]}")

elif case == "budget":
    a = fresh("budget")
    r = run(train_args(a, 2, ["--mem-budget", "1"]))
    msg = r.stderr.strip()
    check(r.returncode == 1 and "budget" in msg, f"a 1 MB budget refuses the run: {msg}")
    r = run(["train", "--model", "mobilenetv2", "--data", "fashion-mnist", "--steps", "1", "--batch", "64",
             "--input-size", "224", "--backend", backend, "--out", fresh("budget2"), "--mem-budget", "200"])
    msg = r.stderr.strip()
    check(r.returncode == 1 and "budget" in msg, f"a 224 px MobileNetV2 over a 200 MB budget is refused: {msg}")

elif case == "heads":
    for extra in (["--heads", "fc,features.6,stage4"], ["--head-kind", "rbf"], ["--head-kind", "linear"],
                  ["--pool", "max", "--degree", "3", "--coef", "0.5"], ["--head-weight", "1,0.3,0.3"]):
        a = fresh("heads")
        r = run(train_args(a, 3, extra))
        check(r.returncode == 0 and "loss_" in open(a + "/metrics.csv").readline(),
              f"training with {' '.join(extra)} ({r.stderr.strip()[-200:]})")
        r = run(["export", a, "-o", a + "/m.onnx"])
        check(r.returncode == 0, f"export after {' '.join(extra)}")
    r = run(train_args(fresh("heads"), 3, ["--heads", "fc,nosuchtensor"]))
    check(r.returncode == 2 and "nosuchtensor" in r.stderr, f"an unknown head is a usage error: {r.stderr.strip()}")
    r = run(train_args(fresh("heads"), 3, ["--head-weight", "1,2"]))
    check(r.returncode == 2, f"a head-weight list of the wrong length is a usage error: {r.stderr.strip()}")

else:
    sys.exit(f"unknown case {case}")

print(f"{case}: {len(fails)} failure(s)")
sys.exit(1 if fails else 0)
