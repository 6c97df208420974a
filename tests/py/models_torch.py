#!/usr/bin/python3
"""models_torch.py — the built models against onnx.checker, ONNX Runtime and torchvision with the same weights.

usage: models_torch.py hpk HPK OUTDIR           through the hpk executable: `hpk model`, `hpk run --backend
                                                ref`, `hpk inspect --json` (and its exit statuses)
       models_torch.py tool MODEL_TOOL OUTDIR   the same library calls through tests/unit/model_tool.c, plus
                                                the graph rebuilt here with onnx.helper: hpk's export must
                                                equal it node for node and byte for byte

For each family (and Fashion-MNIST-shaped 1x28x28 configs), at a small input size: hpk's export passes
onnx.checker (full_check), and re-imported, stage discovery finds the builder's stages; BN weights and running statistics are randomized (the same in every copy, so a
runner that ignores them is caught) and classifier weights scaled up; ONNX Runtime's output must equal
torchvision's, eval mode, with the ONNX initializers loaded by name into torchvision's state_dict (strict:
every key, every shape), to 1e-4 absolute and relative to the largest logit, and
hpk's ref backend must equal ONNX Runtime's to 1e-4. torchvision's own exports of MobileNetV2/V3 and
ResNet-18/50 (BN folded and not) get stage tables naming the expected blocks. Run with Debian's /usr/bin/python3; ONNX Runtime is onnxruntime-node found through
NODE_PATH (or .deps/node_modules, or /tmp/ortnpm/node_modules)."""
import json, os, subprocess, sys, warnings

import numpy as np
import onnx
import torch
import torchvision
from onnx import helper, numpy_helper

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ORT_RUN = os.path.join(ROOT, "tests", "data", "fixtures", "ort_run.js")
TOL = 1e-4

# (family, width, classes, input size, input channels, seed)
CONFIGS = [
    ("mobilenetv2", 0.5, 10, 64, 3, 1),
    ("mobilenetv3-small", 0.75, 10, 64, 3, 2),
    ("mobilenetv3-large", 1.0, 10, 64, 3, 3),
    ("mobilenetv2", 1.0, 10, 28, 1, 4),
    ("mobilenetv3-small", 0.5, 7, 28, 1, 5),
    ("mobilenetv3-large", 0.5, 1000, 97, 3, 6),
]
# the outputs of these torchvision feature blocks are stage1..stage5; fc is the flattened pooled vector
STAGES = {
    "mobilenetv2": ["features.1", "features.3", "features.6", "features.13", "features.17", "flatten"],
    "mobilenetv3-small": ["features.0", "features.1", "features.3", "features.8", "features.11", "flatten"],
    "mobilenetv3-large": ["features.1", "features.3", "features.6", "features.12", "features.15", "flatten"],
}
CONSTANTS = {"relu6.min", "relu6.max", "dropout.ratio"}


def node_env():
    env = dict(os.environ)
    paths = [p for p in env.get("NODE_PATH", "").split(os.pathsep) if p]
    paths += [os.path.join(ROOT, ".deps", "node_modules"), "/tmp/ortnpm/node_modules"]
    env["NODE_PATH"] = os.pathsep.join(p for p in paths if os.path.isdir(p))
    return env


def torchvision_model(family, width, classes, in_ch):
    make = {"mobilenetv2": torchvision.models.mobilenet_v2, "mobilenetv3-small": torchvision.models.mobilenet_v3_small,
            "mobilenetv3-large": torchvision.models.mobilenet_v3_large}[family]
    m = make(width_mult=width, num_classes=classes)
    if in_ch != 3:  # torchvision's stem is hard-wired to 3 channels; hpk's takes any
        c0 = m.features[0][0]
        m.features[0][0] = torch.nn.Conv2d(in_ch, c0.out_channels, c0.kernel_size, c0.stride, c0.padding, bias=False)
    return m.eval()


def onnx_from_dump(prefix):
    """Builds an ONNX model from model_tool's JSON + raw bytes with onnx.helper (not hpk's exporter)."""
    d = json.load(open(prefix + ".json"))
    raw = open(prefix + ".bin", "rb").read()
    inits = []
    for t in d["initializers"]:
        assert t["dtype"] == 1, t["name"]
        a = np.frombuffer(raw, np.float32, t["nbytes"] // 4, t["offset"]).reshape(t["shape"])
        inits.append(numpy_helper.from_array(a, t["name"]))
    nodes = []
    for n in d["nodes"]:
        attrs = {k: (float(v["f"]) if isinstance(v, dict) else v) for k, v in n["attrs"].items()}
        nodes.append(helper.make_node(n["op"], n["inputs"], n["outputs"], name=n["name"], **attrs))
    vi = lambda v: helper.make_tensor_value_info(v["name"], onnx.TensorProto.FLOAT, v["shape"])
    g = helper.make_graph(nodes, "hpk", [vi(v) for v in d["inputs"]], [vi(v) for v in d["outputs"]], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", d["opset"])], producer_name="hpk")
    m.ir_version = 8
    return m, [s["tensor"] for s in d["stages"]], d["initializers"]


def randomize(model, seed):
    """Random BN weight/bias/mean/var, and classifier weights of std 1/sqrt(fan-in) so the logits are O(1) and
    a 1e-4 tolerance means something; the same wherever this model's initializers go."""
    rng = np.random.default_rng(seed)
    for t in model.graph.initializer:
        leaf = t.name.rsplit(".", 1)[-1]
        a = numpy_helper.to_array(t)
        if a.ndim == 2:
            b = rng.standard_normal(a.shape) / np.sqrt(a.shape[1])
            t.CopyFrom(numpy_helper.from_array(b.astype(np.float32), t.name))
            continue
        if a.ndim != 1 or not any(t.name.endswith(s) for s in (".running_mean", ".running_var", ".weight", ".bias")):
            continue
        if not any(n.op_type == "BatchNormalization" and t.name in n.input for n in model.graph.node):
            continue
        lo, hi = {"running_mean": (-0.1, 0.1), "running_var": (0.5, 1.5), "weight": (0.5, 1.5), "bias": (-0.1, 0.1)}[leaf]
        t.CopyFrom(numpy_helper.from_array(rng.uniform(lo, hi, a.shape).astype(np.float32), t.name))


def load_into_torch(model, tv):
    """ONNX initializers into torchvision's state_dict by name: every key present, every shape equal."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    sd = tv.state_dict()
    new = {}
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            new[k] = v
            continue
        assert k in inits, f"torchvision key {k} has no ONNX initializer"
        assert tuple(inits[k].shape) == tuple(v.shape), f"{k}: ONNX {inits[k].shape} vs torchvision {tuple(v.shape)}"
        new[k] = torch.from_numpy(inits[k].copy())
    extra = set(inits) - set(sd) - CONSTANTS
    assert not extra, f"ONNX initializers torchvision does not have: {sorted(extra)[:5]}"
    tv.load_state_dict(new, strict=True)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


class Hpk:
    """The hpk executable: `hpk model`, `hpk run --backend ref`, `hpk inspect --json`."""
    def __init__(self, exe):
        self.exe = exe

    def build(self, cfg, base):
        family, width, classes, size, in_ch, seed = cfg
        run([self.exe, "model", family, "--width", str(width), "--classes", str(classes), "--input-size", str(size),
             "--in-channels", str(in_ch), "--seed", str(seed), "-o", base + ".hpk.onnx"])
        return base + ".hpk.onnx"

    def run(self, path, x, y):
        run([self.exe, "run", path, "--input", x, "--output", y, "--backend", "ref"])

    def stages(self, path):
        return [(s["name"], s["tensor"], s["stride"]) for s in json.loads(run([self.exe, "inspect", path, "--json"]))["stages"]]


class Tool(Hpk):
    """tests/unit/model_tool.c: the same library calls in one process, and the graph as JSON besides."""
    def build(self, cfg, base):
        run([self.exe, "build"] + [str(v) for v in cfg] + [base])
        return base + ".hpk.onnx"

    def run(self, path, x, y):
        run([self.exe, "run", path, x, y])

    def stages(self, path):
        return [tuple(s) for s in json.loads(run([self.exe, "stages", path]))]


def attr_values(n):
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def same_graph(a, b):
    """Nodes (op, inputs, outputs, attributes) and initializers (name, bytes) equal."""
    na = [(n.op_type, list(n.input), list(n.output), attr_values(n)) for n in a.graph.node]
    nb = [(n.op_type, list(n.input), list(n.output), attr_values(n)) for n in b.graph.node]
    assert na == nb, "the exported nodes differ from the builder's: " + str(next(x for x in zip(na, nb) if x[0] != x[1]))
    ia = {t.name: numpy_helper.to_array(t) for t in a.graph.initializer}
    ib = {t.name: numpy_helper.to_array(t) for t in b.graph.initializer}
    assert ia.keys() == ib.keys(), "initializer names differ"
    for k in ia:
        assert ia[k].dtype == ib[k].dtype and ia[k].shape == ib[k].shape and ia[k].tobytes() == ib[k].tobytes(), k


def check_config(driver, out, cfg):
    family, width, classes, size, in_ch, seed = cfg
    tag = f"{family}_w{width}_c{classes}_{in_ch}x{size}"
    base = os.path.join(out, tag)
    exported = driver.build(cfg, base)
    model = onnx.load(exported)
    onnx.checker.check_model(model, full_check=True)
    want = [(f"stage{k + 1}", t, 2 << k) for k, t in enumerate(STAGES[family][:5])] + [("fc", "flatten", 0)]
    st = driver.stages(exported)  # the export re-imported: stage discovery must find the builder's stages
    assert st == want, f"{tag}: stages of the re-imported export {st}"
    if isinstance(driver, Tool):  # the builder's own table, and the exporter's fidelity
        helper_model, builder_stages, _ = onnx_from_dump(base)
        assert builder_stages == STAGES[family], f"{tag}: builder stages {builder_stages}"
        onnx.checker.check_model(helper_model, full_check=True)
        same_graph(helper_model, model)
    randomize(model, seed)
    path = base + ".onnx"
    onnx.save(model, path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    x = np.random.default_rng(100 + seed).standard_normal((2, in_ch, size, size)).astype(np.float32)
    xp, yo, yh = base + ".x.npy", base + ".ort.npy", base + ".hpk.npy"
    np.save(xp, x)
    run(["node", ORT_RUN, path, xp, yo], env=node_env())
    y_ort = np.load(yo)
    tv = torchvision_model(family, width, classes, in_ch)
    load_into_torch(model, tv)
    with torch.no_grad():
        y_tv = tv(torch.from_numpy(x)).numpy()
    assert y_ort.shape == (2, classes), y_ort.shape
    d_tv, top = float(np.abs(y_ort - y_tv).max()), float(np.abs(y_tv).max())
    driver.run(path, xp, yh)
    d_hpk = float(np.abs(np.load(yh) - y_ort).max())
    ok = d_tv <= TOL * min(1.0, top) and d_hpk <= TOL
    print(("ok   " if ok else "FAIL ") + f"{tag}: |logits| <= {top:.3g}; ORT vs torchvision {d_tv:.2e}; "
          f"hpk ref vs ORT {d_hpk:.2e}")
    return ok


def torchvision_exports(driver, out):
    """torchvision's own ONNX exports (BN folded and not): hpk inspect's stage table names its blocks."""
    torch.manual_seed(0)
    want_mb = lambda blocks: [f"/features/features.{b}/" for b in blocks]
    cases = [
        ("mobilenetv2", torchvision.models.mobilenet_v2(width_mult=0.5, num_classes=10), want_mb([1, 3, 6, 13, 17])),
        ("mobilenetv3small", torchvision.models.mobilenet_v3_small(num_classes=10), want_mb([0, 1, 3, 8, 11])),
        ("mobilenetv3large", torchvision.models.mobilenet_v3_large(width_mult=0.75, num_classes=10),
         want_mb([1, 3, 6, 12, 15])),
        ("resnet18", torchvision.models.resnet18(num_classes=10), ["/relu/", "/layer1/", "/layer2/", "/layer3/", "/layer4/"]),
        ("resnet50", torchvision.models.resnet50(num_classes=10), ["/relu/", "/layer1/", "/layer2/", "/layer3/", "/layer4/"]),
    ]
    ok = True
    x = torch.randn(1, 3, 64, 64)
    for name, m, want in cases:
        for folded in (True, False):
            p = os.path.join(out, f"tv_{name}{'' if folded else '_bn'}.onnx")
            torch.onnx.export(m.eval(), x, p, opset_version=13, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=folded,
                              training=torch.onnx.TrainingMode.EVAL if folded else torch.onnx.TrainingMode.PRESERVE)
            st = driver.stages(p)
            good = len(st) == 6 and [s[0] for s in st] == ["stage1", "stage2", "stage3", "stage4", "stage5", "fc"]
            good = good and all(st[k][1].startswith(want[k]) and st[k][2] == 2 << k for k in range(5))
            good = good and "Flatten" in st[5][1]
            ok &= good
            print(("ok   " if good else "FAIL ") + f"torchvision {os.path.basename(p)} stages: " +
                  ", ".join(f"{n}={t}" for n, t, _ in st))
    return ok


def cli_errors(hpk, out):
    """`hpk model`'s exit statuses: 0 ok/help, 1 bad value (one line naming it), 2 usage."""
    o = os.path.join(out, "bad.onnx")
    cases = [
        ([], 2, ""), (["mobilenetv2"], 2, ""), (["mobilenetv2", "--width", "x", "-o", o], 2, "--width"),
        (["mobilenetv2", "--bogus", "-o", o], 2, "--bogus"), (["--help"], 0, ""),
        (["resnet", "-o", o], 1, "unknown model"), (["mobilenetv2", "--width", "0", "-o", o], 1, "width"),
        (["mobilenetv2", "--width", "nan", "-o", o], 1, "width"),
        (["mobilenetv3-small", "--classes", "0", "-o", o], 1, "classes"),
        (["mobilenetv3-small", "--classes", "99999999999", "-o", o], 1, "classes"),
        (["mobilenetv3-large", "--input-size", "16", "-o", o], 1, "input size"),
        (["mobilenetv3-large", "--in-channels", "0", "-o", o], 1, "channels"),
        (["mobilenetv2", "--seed", "-1", "-o", o], 1, "seed"),
        (["mobilenetv2", "--dropout", "1", "-o", o], 1, "dropout"),
        (["mobilenetv2", "-o", os.path.join(out, "no", "such", "dir", "m.onnx")], 1, ""),
    ]
    ok = True
    for args, code, word in cases:
        r = subprocess.run([hpk, "model"] + args, capture_output=True, text=True)
        good = r.returncode == code and (code != 1 or (word in r.stderr and r.stderr.count("\n") == 1))
        ok &= good
        if not good:
            print(f"FAIL hpk model {' '.join(args)}: exit {r.returncode} (want {code}): {r.stderr.strip()[:200]}")
    print(("ok   " if ok else "FAIL ") + f"hpk model: exit statuses of {len(cases)} bad or odd command lines")
    return ok


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("tool", "hpk"):
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    mode, exe, out = sys.argv[1:]
    driver = Hpk(exe) if mode == "hpk" else Tool(exe)
    os.makedirs(out, exist_ok=True)
    ok = True
    for cfg in CONFIGS:
        try:
            ok &= check_config(driver, out, cfg)
        except (AssertionError, RuntimeError, onnx.checker.ValidationError) as e:
            print(f"FAIL {cfg}: {e}")
            ok = False
    try:
        if mode == "hpk":
            ok &= cli_errors(exe, out)
        ok &= torchvision_exports(driver, out)
    except (AssertionError, RuntimeError) as e:
        print(f"FAIL: {e}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
