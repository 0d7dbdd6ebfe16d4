#!/usr/bin/env python3
"""PyTorch figures for the same shapes as benchmarks/matmul.mjs, attention.mjs and train-step.mjs.

Usage: python3 benchmarks/pytorch/bench.py [--json] [--threads N] [--quick] [--only matmul|train|attention|profile] [--steps N] [--warmup N]
       python3 benchmarks/pytorch/bench.py --serve
(--only profile: PyTorch's per-op profile of the tiny training step, a table. --serve: the tiny training
step on request, for benchmarks/paired-step.mjs: each stdin line "STEPS THREADS" runs that many steps on
that many threads and answers one JSON line, the step times in ms; an empty line or EOF ends it.)
Needs torch (Debian: apt-get install python3-torch; for a fast BLAS also libopenblas0-pthread).
Prints a table, or one JSON object with --json (read by the JS benchmarks when they run it).
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

args = sys.argv[1:]
JSON = "--json" in args
QUICK = "--quick" in args
threads = int(args[args.index("--threads") + 1]) if "--threads" in args else 2
only = args[args.index("--only") + 1] if "--only" in args else None
torch.set_num_threads(threads)
torch.manual_seed(0)


def best_of(fn, reps=5, warmup=1):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def matmul_gflops(m, k, n, layout="nn"):
    a = torch.rand(k, m).t() if layout == "tn" else torch.rand(m, k)
    b = torch.rand(n, k).t() if layout == "nt" else torch.rand(k, n)
    ms = best_of(lambda: a @ b, reps=3 if QUICK else 7)
    return 2 * m * k * n / ms / 1e6


class Block(torch.nn.Module):
    """GPT-Neo block: LN → attention (no bias on q/k/v, no 1/√d scaling, causal or local) → LN → gelu_new MLP."""

    def __init__(self, d, heads, local, window):
        super().__init__()
        self.h, self.local, self.window = heads, local, window
        self.ln_1 = torch.nn.LayerNorm(d, eps=1e-5)
        self.q = torch.nn.Linear(d, d, bias=False)
        self.k = torch.nn.Linear(d, d, bias=False)
        self.v = torch.nn.Linear(d, d, bias=False)
        self.out = torch.nn.Linear(d, d)
        self.ln_2 = torch.nn.LayerNorm(d, eps=1e-5)
        self.fc = torch.nn.Linear(d, 4 * d)
        self.proj = torch.nn.Linear(4 * d, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.ln_1(x)
        split = lambda z: z.view(b, t, self.h, d // self.h).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        s = q @ k.transpose(-1, -2)
        i = torch.arange(t).view(t, 1)
        j = torch.arange(t).view(1, t)
        mask = j <= i
        if self.local:
            mask = mask & (j > i - self.window)
        s = s.masked_fill(~mask, torch.finfo(s.dtype).min)
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.out(a)
        y = self.fc(self.ln_2(x))
        y = 0.5 * y * (1 + torch.tanh(math.sqrt(2 / math.pi) * (y + 0.044715 * y ** 3)))
        return x + self.proj(y)


class TinyGPTNeo(torch.nn.Module):
    def __init__(self, vocab=512, d=64, layers=2, heads=4, seq=64, window=256):
        super().__init__()
        self.wte = torch.nn.Embedding(vocab, d)
        self.wpe = torch.nn.Embedding(max(seq, 64), d)
        self.blocks = torch.nn.ModuleList([Block(d, heads, i % 2 == 1, window) for i in range(layers)])
        self.ln_f = torch.nn.LayerNorm(d, eps=1e-5)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(t))
        for blk in self.blocks:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.t()  # tied head


def arg_int(name, default):
    return int(args[args.index(name) + 1]) if name in args else default


def tiny_train_step(batch=8, seq=64):
    """One training step of the tiny model (forward, backward, AdamW) as a function returning the loss."""
    model = TinyGPTNeo(seq=seq)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    ids = torch.randint(0, 512, (batch, seq))

    def step():
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def train_step_profile(steps=arg_int("--steps", 30), warmup=arg_int("--warmup", 50)):
    """PyTorch's per-op profile of the tiny training step (self CPU time), to set beside LLM_MODULES_PROFILE=1."""
    step = tiny_train_step()
    for _ in range(warmup):
        step()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return f"{steps} steps after {warmup} warm-up steps, {torch.get_num_threads()} thread(s)\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25)


def train_step_ms(steps=arg_int("--steps", 8 if not QUICK else 2), warmup=arg_int("--warmup", 2)):
    step = tiny_train_step()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2], times[0]


def attention_ms(b=1, h=12, t=512, d=64):
    q, k, v = (torch.randn(b, h, t, d, requires_grad=True) for _ in range(3))
    i = torch.arange(t).view(t, 1)
    j = torch.arange(t).view(1, t)

    def composite():
        s = (q @ k.transpose(-1, -2)) / math.sqrt(d)
        s = s.masked_fill(j > i, float("-inf"))
        return s.softmax(-1) @ v

    def fused():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") else composite()

    def fwd_bwd(f):
        def run():
            q.grad = k.grad = v.grad = None
            f().sum().backward()
        return run

    with torch.no_grad():
        fwd_c = best_of(composite, reps=3)
        fwd_f = best_of(fused, reps=3)
    return {"composite_fwd_ms": fwd_c, "sdpa_fwd_ms": fwd_f, "composite_fwd_bwd_ms": best_of(fwd_bwd(composite), reps=3), "sdpa_fwd_bwd_ms": best_of(fwd_bwd(fused), reps=3)}


if only == "profile":
    print(train_step_profile())
    sys.exit(0)

if "--serve" in args:
    step = tiny_train_step()
    print(json.dumps({"torch": torch.__version__, "blas": torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0]}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        n, th = (int(w) for w in line.split())
        torch.set_num_threads(th)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps(times), flush=True)
    sys.exit(0)

result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0]}
shapes = {"64": (64, 64, 64, "nn"), "128": (128, 128, 128, "nn"), "256": (256, 256, 256, "nn"), "512": (512, 512, 512, "nn"), "1024": (1024, 1024, 1024, "nn"), "mlp": (128, 768, 3072, "nn"), "mlp_dx": (128, 3072, 768, "nt"), "mlp_dw": (768, 128, 3072, "tn")}
if only in (None, "matmul"):
    result["matmul_gflops"] = {}
    for name, (m, k, n, lay) in shapes.items():
        if QUICK and name == "1024":
            continue
        result["matmul_gflops"][name] = round(matmul_gflops(m, k, n, lay), 2)
if only in (None, "train"):
    for th in sorted({1, threads}):
        torch.set_num_threads(th)
        med, best = train_step_ms()
        result[f"train_step_ms_{th}thread"] = round(med, 2)
        result[f"train_step_best_ms_{th}thread"] = round(best, 2)
    torch.set_num_threads(threads)
if only in (None, "attention") and not QUICK:
    result["attention_t512"] = {k: round(v, 2) for k, v in attention_ms().items()}

if JSON:
    print(json.dumps(result))
else:
    print(f"torch {result['torch']} (BLAS {result['blas']}), {result['threads']} threads")
    for k, v in result.get("matmul_gflops", {}).items():
        print(f"matmul {k}: {v} GFLOPS")
    for th in sorted({1, threads}):
        if f"train_step_ms_{th}thread" in result:
            print(f"train step (tiny GPT-Neo, batch 8 x seq 64, fwd+bwd+AdamW), {th} thread(s): {result[f'train_step_ms_{th}thread']} ms median, {result[f'train_step_best_ms_{th}thread']} best")
    if "attention_t512" in result:
        print("attention T=512 (ms):", result["attention_t512"])
