#!/usr/bin/python3
"""fixtures_run.py — the bundled torchvision fixtures through `hpk run` on each backend, against ONNX Runtime's
outputs stored beside them (tests/data/fixtures/*.ort.npy), to 1e-4 absolute.
usage: fixtures_run.py HPK OUTDIR BACKEND..."""
import glob, os, subprocess, sys
import numpy as np

hpk, out, backends = sys.argv[1], sys.argv[2], sys.argv[3:]
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fixtures")
os.makedirs(out, exist_ok=True)
bad = 0
for model in sorted(glob.glob(os.path.join(here, "*.onnx"))):
    tag = os.path.basename(model)[:-5]
    xin = os.path.join(here, tag.split("_op")[0] + ".input.npy")
    want = np.load(os.path.join(here, tag + ".ort.npy"))
    for be in backends:
        y = os.path.join(out, f"{tag}.{be}.npy")
        r = subprocess.run([hpk, "run", model, "--input", xin, "--output", y, "--backend", be], capture_output=True,
                           text=True)
        if r.returncode:
            print(f"FAIL {tag} [{be}]: exit {r.returncode}: {r.stderr.strip()}")
            bad += 1
            continue
        d = float(np.abs(np.load(y) - want).max())
        ok = d <= 1e-4
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {tag} [{be}]: max abs diff vs ONNX Runtime {d:.2e}")
sys.exit(1 if bad else 0)
