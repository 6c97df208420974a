#!/usr/bin/python3
"""torch_train_bench.py — PyTorch's training throughput (forward + backward + SGD update) on a torchvision
MobileNet, the peer of `hpk bench --train`. Prints "<img/s> img/s" last and the peak RSS in MiB before it.
usage: torch_train_bench.py FAMILY WIDTH BATCH SIZE THREADS STEPS"""
import resource, sys, time
import torch, torchvision

family, width, batch, size, threads, steps = sys.argv[1], float(sys.argv[2]), *map(int, sys.argv[3:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
make = {"mobilenetv2": torchvision.models.mobilenet_v2, "mobilenetv3-small": torchvision.models.mobilenet_v3_small,
        "mobilenetv3-large": torchvision.models.mobilenet_v3_large}[family]
m = make(width_mult=width, num_classes=1000).train()
opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
x = torch.randn(batch, 3, size, size)
y = torch.randint(0, 1000, (batch,))

def step():
    opt.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(m(x), y).backward()
    opt.step()

step()  # warm-up
t0 = time.perf_counter()
for _ in range(steps):
    step()
dt = time.perf_counter() - t0
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
print(f"{batch * steps / dt:.2f} img/s")
