#!/usr/bin/env python3
"""Matmul GFLOPS on PyTorch CUDA (float32, TF32 off then on), for benchmarks/device/run.mjs.
Usage: python3 benchmarks/device/torch_cuda.py 1024,2048,4096,8192 -> one JSON line {"rows": [...]}."""
import json
import sys

import torch

if not torch.cuda.is_available():
    sys.exit("torch has no CUDA device here")
sizes = [int(s) for s in sys.argv[1].split(",")]
rows = []
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    for n in sizes:
        a = torch.randn(n, n, device="cuda")
        b = torch.randn(n, n, device="cuda")
        torch.matmul(a, b)
        torch.cuda.synchronize()
        best = float("inf")
        for _ in range(5):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            torch.matmul(a, b)
            end.record()
            torch.cuda.synchronize()
            best = min(best, start.elapsed_time(end))
        rows.append({"backend": "cuda-tf32" if tf32 else "cuda-fp32", "n": n, "ms": best, "gflops": 2 * n**3 / (best * 1e6)})
print(json.dumps({"device": torch.cuda.get_device_name(0), "rows": rows}))
