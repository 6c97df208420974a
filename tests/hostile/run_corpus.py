#!/usr/bin/env python3
"""Replays the hostile-input corpus against hpk's ONNX importer.

usage: run_corpus.py LOADER CORPUS_DIR
LOADER is a program called as `LOADER load FILE` that imports FILE the way `hpk inspect` does and prints the
importer's one-line error on stderr (tests/unit/test_onnx.c). For every file in CORPUS_DIR/MANIFEST.json:
 - status 1 (rejected) or 0 (valid) exactly as the manifest says; never a signal, never a timeout;
 - a rejection is one line starting with "FILE: " that contains every expected substring (the node/tensor);
 - nothing from AddressSanitizer/UBSan on stderr.
Cases with a "setup" (symlinks, hard links, FIFOs: git cannot store hard links) are run from a temporary
folder built here; a regular-file control case proves the rejections come from the links themselves.
Also: a folder, a FIFO and a missing path given as the model. Needs no onnx module; any python3 works."""
import json, os, resource, shutil, signal, subprocess, sys, tempfile

loader, corpus = sys.argv[1], sys.argv[2]
with open(os.path.join(corpus, "MANIFEST.json")) as f:
    manifest = json.load(f)

env = dict(os.environ)
# sanitizer reports must not look like an ordinary rejection (ASan's default exit status is 1)
env["ASAN_OPTIONS"] = "abort_on_error=1:halt_on_error=1:detect_leaks=1:" + env.get("ASAN_OPTIONS", "")
env["UBSAN_OPTIONS"] = "halt_on_error=1:abort_on_error=1:print_stacktrace=1:" + env.get("UBSAN_OPTIONS", "")
with open(loader, "rb") as f:
    image = f.read()
    sanitized = b"__asan_init" in image or b"__ubsan_handle" in image


def limit_memory():
    # without sanitizers (which reserve huge shadow mappings), a 1 GiB address-space cap proves that huge dims
    # claims are rejected before anything is allocated for them
    if not sanitized:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


failures = []


def run(path, status, expect, label, timeout=120):
    try:
        p = subprocess.run([loader, "load", path], capture_output=True, text=True, errors="replace",
                           timeout=timeout, env=env, preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        failures.append(f"{label}: took more than {timeout}s (a hang, or quadratic work)")
        return
    err = p.stderr
    if p.returncode < 0:
        failures.append(f"{label}: killed by signal {signal.Signals(-p.returncode).name}: {err.strip()[:2000]}")
        return
    if "AddressSanitizer" in err or "runtime error" in err or "LeakSanitizer" in err:
        failures.append(f"{label}: sanitizer report:\n{err[:4000]}")
        return
    if p.returncode != status:
        failures.append(f"{label}: exit status {p.returncode}, expected {status}: {err.strip()[:500]}")
        return
    if status == 0:
        return
    lines = err.splitlines()
    if len(lines) != 1:
        failures.append(f"{label}: expected a one-line error, got {len(lines)} lines: {err[:500]!r}")
        return
    if not lines[0].startswith(path + ": "):
        failures.append(f"{label}: the error does not start with the file name: {lines[0]!r}")
    for s in expect:
        if s not in lines[0]:
            failures.append(f"{label}: the error does not mention {s!r}: {lines[0]!r}")


WBYTES = 432  # conv.weight of the corpus's base model


def setup_case(kind, tmp, model):
    """Builds TMP/outside/ and TMP/model/MODEL with its external data per kind; returns the model path."""
    md, out = os.path.join(tmp, "model"), os.path.join(tmp, "outside")
    os.makedirs(md)
    os.makedirs(out)
    shutil.copy(os.path.join(corpus, model), md)
    secret = os.path.join(out, "secret.bin")
    with open(secret, "wb") as f:
        f.write(b"\x42" * WBYTES)
    if kind == "regular_file":
        shutil.copy(secret, os.path.join(md, "w.bin"))
    elif kind == "symlink_file":
        os.symlink(os.path.join("..", "outside", "secret.bin"), os.path.join(md, "w.bin"))
    elif kind == "symlink_dir":
        os.symlink(os.path.join("..", "outside"), os.path.join(md, "sub"))
        shutil.copy(secret, os.path.join(out, "w.bin"))
    elif kind == "hardlink":
        os.link(secret, os.path.join(md, "w.bin"))
    elif kind == "fifo":
        os.mkfifo(os.path.join(md, "w.bin"))
    else:
        raise SystemExit(f"unknown setup {kind!r}")
    return os.path.join(md, model)


for name, case in sorted(manifest.items()):
    if case.get("setup"):
        with tempfile.TemporaryDirectory() as tmp:
            path = setup_case(case["setup"], tmp, name)
            run(path, case["status"], case["expect"], f"{name} [{case['setup']}]")
    else:
        run(os.path.join(corpus, name), case["status"], case["expect"], name)

with tempfile.TemporaryDirectory() as tmp:
    run(tmp, 1, ["not a regular file"], "a folder as the model")
    fifo = os.path.join(tmp, "pipe.onnx")
    os.mkfifo(fifo)
    run(fifo, 1, ["not a regular file"], "a FIFO as the model")
    run(os.path.join(tmp, "missing.onnx"), 1, ["cannot open"], "a missing model")
    newline = os.path.join(tmp, "bad\nname.onnx")
    shutil.copy(os.path.join(corpus, "unknown_op.onnx"), newline)
    p = subprocess.run([loader, "load", newline], capture_output=True, text=True, env=env)
    if p.returncode != 1 or len(p.stderr.splitlines()) != 1:
        failures.append(f"a file name with a newline: status {p.returncode}, {p.stderr!r} (must stay one line)")

# ---- stress cases generated here (too big to commit): inputs that made a stage quadratic -------------------
def varint(v):
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def vi(name, dims):
    """ValueInfoProto: float tensor; dims entries are ints (dim_value) or strs (dim_param)."""
    shape = b"".join(ld(1, varint(1 << 3) + varint(d) if isinstance(d, int) else ld(2, d.encode())) for d in dims)
    return ld(1, name.encode()) + ld(2, ld(1, varint(1 << 3) + varint(1) + ld(2, shape)))


HEADER = varint(1 << 3) + varint(8) + ld(8, varint(2 << 3) + varint(13))
n = 100000  # Conv chain on a symbolic H x W: shape inference makes two fresh symbols per node
nodes = b"".join(ld(1, ld(1, (b"x" if i == 0 else b"y%d" % (i - 1))) + ld(1, b"w") + ld(2, b"y%d" % i) +
                       ld(4, b"Conv")) for i in range(n))
w = ld(5, ld(1, b"\x01\x01\x01\x01") + varint(2 << 3) + varint(1) + ld(8, b"w") + ld(9, b"\0\0\x80\x3f"))
graph = nodes + w + ld(11, vi("x", ["N", 1, "H", "W"])) + ld(12, ld(1, b"y%d" % (n - 1)))
stress = [("stress_conv_chain.onnx", HEADER + ld(7, graph), 0, []),
          ("stress_repeated_graph.onnx", HEADER + ld(7, ld(1, ld(2, b"y") + ld(4, b"Relu"))) * 200000, 1,
           ["twice"])]
with tempfile.TemporaryDirectory() as tmp:
    for name, data, status, expect in stress:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        run(path, status, expect, name, timeout=60)

for f in failures:
    print("FAIL:", f)
print(f"{len(manifest) + 6} cases, {len(failures)} failures")
sys.exit(1 if failures else 0)
