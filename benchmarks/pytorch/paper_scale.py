#!/usr/bin/env python3
"""Paper-scale PyTorch baseline for the LLM Modules composition (arXiv 2502.08213). OPTIONAL: never part of the tests.

Frozen Qwen2-1.5B teacher -> "Enhanced Cross-Attention" bridge (causal, j <= i) -> 12 GPT-Neo-125M blocks -> new
768 -> 151,646 head, written here in plain torch (no transformers / safetensors packages), f32, batch 1, random
weights unless --teacher points at a Qwen2 safetensors folder. It measures the workload the TypeScript library is
measured on, on the same CPU:
  load               read a bf16 safetensors Qwen2 folder (own header parser) into the f32 teacher: s, peak RSS
  teacher_forward    teacher over --rows rows of --seq random ids, no grad (mirrors `cache-teacher`): tokens/s
  train_step_cached  bridge + GPT-Neo + head fwd, next-token CE on every token, bwd, clip 1.0, AdamW (bridge lr
                     1e-4, GPT-Neo side 5e-5) from a cached [1, seq, 1536] teacher state: s/step (median)
  train_step_live    the same with the teacher forward inside the step (no grad through it)
  generate           64-token prompt prefill, then --gen-tokens greedy decode steps with KV caches in the teacher,
                     the bridge (keys/values of the teacher states so far) and GPT-Neo: new tokens/s
Peak RSS per phase is VmHWM, reset per phase through /proc/self/clear_refs (Linux only). The architecture follows
docs/paper-architecture.md.

Usage: python3 benchmarks/pytorch/paper_scale.py [--teacher DIR] [--wait-teacher S] [--seq 512] [--rows 32]
           [--steps 5] [--live-steps 2] [--gen-tokens 32] [--threads 2] [--json] [--out FILE] [--tiny] [--no-teacher]
--tiny shrinks every model (a smoke test of the code paths, not a benchmark).
--no-teacher builds no teacher and runs train_step_cached only: the memory of training from a cache alone (what
`llm-modules train` with a `teacherCache` holds), e.g. under `/usr/bin/time -v` for the process's peak RSS.
"""
import argparse, glob, json, math, os, struct, time

import torch
import torch.nn as nn
import torch.nn.functional as F

QWEN = dict(vocab=151936, d=1536, layers=28, heads=12, kv_heads=2, ffn=8960, eps=1e-6, theta=1e6)
NEO = dict(d=768, layers=12, heads=12, ffn=3072, window=256, positions=2048, vocab_out=151646, adapter=256, xheads=8)
TINY_QWEN = dict(vocab=1000, d=64, layers=2, heads=4, kv_heads=2, ffn=128, eps=1e-6, theta=1e6)
TINY_NEO = dict(d=48, layers=2, heads=4, ffn=192, window=8, positions=256, vocab_out=990, adapter=16, xheads=8)


# ---------------------------------------------------------------- Qwen2 (teacher), HF parameter names minus "model."
class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate(x, cos, sin):  # rotate-half RoPE on [B, H, T, D]
    x1, x2 = x.chunk(2, -1)
    return x * cos + torch.cat((-x2, x1), -1) * sin


def causal_mask(t, total, window=None):  # rows are the last t of `total` positions
    i = torch.arange(total - t, total).view(t, 1)
    j = torch.arange(total).view(1, total)
    m = j <= i
    return m & (j > i - window) if window else m


class QwenLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h, self.kv, self.hd = c["d"], c["heads"], c["kv_heads"], c["d"] // c["heads"]
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(d, c["eps"]), RMSNorm(d, c["eps"])
        self.self_attn, self.mlp = nn.Module(), nn.Module()
        a, m = self.self_attn, self.mlp
        a.q_proj, a.k_proj, a.v_proj = nn.Linear(d, d), nn.Linear(d, self.kv * self.hd), nn.Linear(d, self.kv * self.hd)
        a.o_proj = nn.Linear(d, d, bias=False)
        m.gate_proj, m.up_proj = nn.Linear(d, c["ffn"], bias=False), nn.Linear(d, c["ffn"], bias=False)
        m.down_proj = nn.Linear(c["ffn"], d, bias=False)

    def forward(self, x, cos, sin, cache):
        b, t, _ = x.shape
        a, m, h = self.self_attn, self.mlp, self.input_layernorm(x)
        q = rotate(a.q_proj(h).view(b, t, self.h, self.hd).transpose(1, 2), cos, sin)
        k = rotate(a.k_proj(h).view(b, t, self.kv, self.hd).transpose(1, 2), cos, sin)
        v = a.v_proj(h).view(b, t, self.kv, self.hd).transpose(1, 2)
        if cache is not None:
            if cache:
                k, v = torch.cat((cache[0], k), 2), torch.cat((cache[1], v), 2)
            cache[:] = [k, v]
        k, v = k.repeat_interleave(self.h // self.kv, 1), v.repeat_interleave(self.h // self.kv, 1)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if t > 1:
            s = s.masked_fill(~causal_mask(t, k.shape[2]), float("-inf"))
        x = x + a.o_proj((s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1))
        h = self.post_attention_layernorm(x)
        return x + m.down_proj(F.silu(m.gate_proj(h)) * m.up_proj(h))


class Qwen2(nn.Module):
    """Decoder up to the final RMSNorm (tied embeddings; no LM head is needed for the teacher)."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab"], c["d"])
        self.layers = nn.ModuleList(QwenLayer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["d"], c["eps"])
        hd = c["d"] // c["heads"]
        self.inv_freq = 1.0 / c["theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd)

    def forward(self, ids, cache=None, pos0=0):  # cache: list of per-layer [k, v] lists, grown in place
        f = torch.outer(torch.arange(pos0, pos0 + ids.shape[1], dtype=torch.float64), self.inv_freq)
        f = torch.cat((f, f), -1)
        cos, sin = f.cos().float(), f.sin().float()
        x = self.embed_tokens(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if cache is None else cache[i])
        return self.norm(x)


# ---------------------------------------------------------------- Enhanced Cross-Attention bridge
class CrossLayer(nn.Module):
    def __init__(self, dt, ds, heads, adapter, dropout=0.1):
        super().__init__()
        self.h, self.p = heads, dropout
        self.ln_kv, self.ln_q = nn.LayerNorm(dt), nn.LayerNorm(ds)
        self.q, self.k, self.v, self.o = nn.Linear(ds, ds), nn.Linear(dt, ds), nn.Linear(dt, ds), nn.Linear(ds, ds)
        self.down, self.up, self.ln_ad = nn.Linear(ds, adapter), nn.Linear(adapter, ds), nn.LayerNorm(ds)
        self.gate = nn.Linear(2 * ds, ds)

    def split(self, z):
        b, t, d = z.shape
        return z.view(b, t, self.h, d // self.h).transpose(1, 2)

    def keys_values(self, P):
        kin = self.ln_kv(P)
        return self.split(self.k(kin)), self.split(self.v(kin))

    def forward(self, S, k, v):
        b, t, d = S.shape
        q = self.split(self.q(self.ln_q(S)))
        s = (q @ k.transpose(-1, -2) / math.sqrt(d // self.h)).masked_fill(~causal_mask(t, k.shape[2]), float("-inf"))
        p = F.dropout(s.softmax(-1), self.p, self.training)
        A = self.o((p @ v).transpose(1, 2).reshape(b, t, d))
        A = A + self.ln_ad(self.up(F.gelu(self.down(A))))
        G = torch.sigmoid(self.gate(torch.cat((S, A), -1)))
        return S + (G * A + (1 - G) * S)


class Bridge(nn.Module):
    def __init__(self, dt, ds, heads, adapter):
        super().__init__()
        mid = (dt + ds) // 2
        self.pre_proj, self.proj = nn.Linear(dt, dt), nn.Linear(dt, ds)
        self.ffn = nn.Sequential(nn.Linear(dt, mid), nn.LayerNorm(mid), nn.GELU(), nn.Linear(mid, ds), nn.LayerNorm(ds))
        self.layers = nn.ModuleList(CrossLayer(dt, ds, heads, adapter) for _ in range(2))

    def forward(self, H, cache=None):  # cache: per-layer [k, v] of all teacher positions so far
        P = self.pre_proj(H)
        S = self.ffn(P)
        for i, layer in enumerate(self.layers):
            k, v = layer.keys_values(P)
            if cache is not None:
                if len(cache) > i:
                    k, v = torch.cat((cache[i][0], k), 2), torch.cat((cache[i][1], v), 2)
                    cache[i] = (k, v)
                else:
                    cache.append((k, v))
            S = layer(S, k, v)
        return S + self.proj(P)


# ---------------------------------------------------------------- GPT-Neo blocks + new head (the student side)
class NeoBlock(nn.Module):
    def __init__(self, c, local):
        super().__init__()
        d, self.h, self.window = c["d"], c["heads"], c["window"] if local else None
        self.ln_1, self.ln_2 = nn.LayerNorm(d, eps=1e-5), nn.LayerNorm(d, eps=1e-5)
        self.q, self.k, self.v = (nn.Linear(d, d, bias=False) for _ in range(3))
        self.out, self.fc, self.proj = nn.Linear(d, d), nn.Linear(d, c["ffn"]), nn.Linear(c["ffn"], d)

    def forward(self, x, cache=None):
        b, t, d = x.shape
        h = self.ln_1(x)
        q, k, v = (z.view(b, t, self.h, d // self.h).transpose(1, 2) for z in (self.q(h), self.k(h), self.v(h)))
        if cache is not None:
            if cache:
                k, v = torch.cat((cache[0], k), 2), torch.cat((cache[1], v), 2)
            cache[:] = [k, v]
        s = (q @ k.transpose(-1, -2)).masked_fill(~causal_mask(t, k.shape[2], self.window), torch.finfo(x.dtype).min)
        x = x + self.out((s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d))  # no 1/sqrt(d) scaling (GPT-Neo)
        y = self.fc(self.ln_2(x))
        y = 0.5 * y * (1 + torch.tanh(math.sqrt(2 / math.pi) * (y + 0.044715 * y ** 3)))  # gelu_new
        return x + self.proj(y)


class Student(nn.Module):
    """Everything trainable: bridge, wpe (zero at start), GPT-Neo blocks (random, init N(0, 0.02)), ln_f, head."""

    def __init__(self, dt, c):
        super().__init__()
        self.bridge = Bridge(dt, c["d"], c["xheads"], c["adapter"])
        self.wpe = nn.Parameter(torch.zeros(c["positions"], c["d"]))
        self.blocks = nn.ModuleList(NeoBlock(c, i % 2 == 1) for i in range(c["layers"]))
        self.ln_f = nn.LayerNorm(c["d"], eps=1e-5)
        self.head = nn.Linear(c["d"], c["vocab_out"], bias=False)
        with torch.no_grad():
            for mod in self.blocks.modules():
                if isinstance(mod, nn.Linear):
                    mod.weight.normal_(0, 0.02)
                    if mod.bias is not None:
                        mod.bias.zero_()

    def forward(self, H, cache=None, pos0=0, last_only=False):  # cache: {"bridge": [], "blocks": [[] ...]}
        x = self.bridge(H, None if cache is None else cache["bridge"])
        x = x + self.wpe[pos0:pos0 + x.shape[1]]
        for i, blk in enumerate(self.blocks):
            x = blk(x, None if cache is None else cache["blocks"][i])
        x = self.ln_f(x[:, -1:] if last_only else x)
        return self.head(x)


# ---------------------------------------------------------------- safetensors (own parser) and memory helpers
DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def st_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return n, json.loads(f.read(n))


def teacher_files(folder):  # None until config.json and every complete shard are there
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    idx = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(os.path.join(folder, "config.json")) or not files:
        return None
    try:
        if os.path.exists(idx):
            want = {os.path.join(folder, f) for f in json.load(open(idx))["weight_map"].values()}
            if not want <= set(files):
                return None
        for p in files:
            n, hdr = st_header(p)
            end = max(m["data_offsets"][1] for k, m in hdr.items() if k != "__metadata__")
            if os.path.getsize(p) != 8 + n + end:
                return None
    except (OSError, ValueError, struct.error):
        return None
    return files


def qwen_config(folder):
    j = json.load(open(os.path.join(folder, "config.json")))
    return dict(vocab=j["vocab_size"], d=j["hidden_size"], layers=j["num_hidden_layers"], heads=j["num_attention_heads"],
                kv_heads=j["num_key_value_heads"], ffn=j["intermediate_size"], eps=j.get("rms_norm_eps", 1e-6),
                theta=j.get("rope_theta", 1e6))


def load_teacher(model, files):
    params = {"model." + k: v for k, v in model.named_parameters()}
    done, skipped, nbytes = set(), [], 0
    with torch.no_grad():
        for path in files:
            n, hdr = st_header(path)
            with open(path, "rb") as f:
                for name, m in sorted((k, m) for k, m in hdr.items() if k != "__metadata__"):
                    if name not in params:
                        skipped.append(name)
                        continue
                    s, e = m["data_offsets"]
                    buf = bytearray(e - s)
                    f.seek(8 + n + s)
                    f.readinto(buf)
                    src = torch.frombuffer(buf, dtype=DTYPES[m["dtype"]]).view(m["shape"])
                    params[name].copy_(src)  # bf16 -> f32 in the copy
                    done.add(name)
                    nbytes += e - s
    return dict(missing=sorted(set(params) - done), skipped=skipped, bytes=nbytes)


def peak_mib():  # VmHWM since the last reset_peak()
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)


def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024)


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def median(xs):
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2 if xs else float("nan")


def count(mod):
    return sum(p.numel() for p in (mod.parameters() if isinstance(mod, nn.Module) else [mod]))


# ---------------------------------------------------------------- the benchmark
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default=None)
    ap.add_argument("--wait-teacher", type=float, default=0, help="seconds to poll for a complete --teacher folder")
    for k, v in dict(seq=512, rows=32, steps=5, live_steps=2, gen_tokens=32, prompt=64, threads=2).items():
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", default=None, help="also write the JSON object here")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--no-teacher", action="store_true", help="no teacher: train_step_cached only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    R, rows = {"torch": torch.__version__, "threads": torch.get_num_threads(), "loadavg_start": os.getloadavg(),
               "seq": a.seq, "tiny": a.tiny}, []

    def row(name, value, unit, note=""):
        rows.append((name, value, unit, note, "%.2f" % os.getloadavg()[0]))

    files, waited = None, 0.0
    if a.teacher:
        t0 = time.time()
        while (files := teacher_files(a.teacher)) is None and time.time() - t0 < a.wait_teacher:
            time.sleep(15)
        waited = time.time() - t0
    qc = qwen_config(a.teacher) if files else (TINY_QWEN if a.tiny else QWEN)
    nc = TINY_NEO if a.tiny else NEO
    t0 = time.perf_counter()
    teacher = None if a.no_teacher else Qwen2(qc).requires_grad_(False).eval()
    student = Student(qc["d"], nc)
    R["build_s"] = round(time.perf_counter() - t0, 2)
    R["params"] = {"teacher": count(teacher) if teacher else 0, "bridge": count(student.bridge),
                   "gptneo_blocks": count(student.blocks) + count(student.ln_f), "wpe": count(student.wpe),
                   "head": count(student.head), "trainable": count(student)}
    for k, v in R["params"].items():
        row("params." + k, "%.2f M" % (v / 1e6), "", "{:,}".format(v) + (" (incl. ln_f)" if k == "gptneo_blocks" else ""))

    # 1. load
    if files and teacher:
        size = sum(os.path.getsize(p) for p in files)
        gc_rss = rss_mib()
        reset_peak()
        t0 = time.perf_counter()
        info = load_teacher(teacher, files)
        dt = time.perf_counter() - t0
        R["load"] = {"s": round(dt, 2), "file_bytes": size, "tensor_bytes": info["bytes"], "files": len(files),
                     "rss_before_mib": gc_rss, "peak_rss_mib": peak_mib(), "missing": info["missing"],
                     "skipped": info["skipped"], "MB_per_s": round(size / dt / 1e6, 1), "waited_s": round(waited)}
        row("load", round(dt, 2), "s", "%.2f GB in %d file(s), %.0f MB/s, RSS %d -> peak %d MiB, %d missing" % (
            size / 1e9, len(files), size / dt / 1e6, gc_rss, R["load"]["peak_rss_mib"], len(info["missing"])))
    else:
        R["load"] = {"skipped": "no complete teacher folder%s; random weights" % (" at " + a.teacher if a.teacher else "")}
        row("load", "-", "", R["load"]["skipped"])
    R["teacher_weights"] = "loaded" if files else "random"

    V = nc["vocab_out"]
    ids = lambda t: torch.randint(0, V, (1, t))

    # 2. teacher forward (cache-teacher)
    reset_peak()
    times = []
    with torch.no_grad():
        for _ in range(a.rows if teacher else 0):
            x = ids(a.seq)
            t0 = time.perf_counter()
            H = teacher(x)
            times.append(time.perf_counter() - t0)
    tps = a.rows * a.seq / sum(times) if times else float("nan")
    R["teacher_forward"] = {"rows": a.rows, "s_per_row": [round(t, 2) for t in times], "tokens_per_s": round(tps, 1),
                            "est_32_rows_s": round(32 * a.seq / tps, 1), "peak_rss_mib": peak_mib(),
                            "finite": bool(torch.isfinite(H).all()) if times else None}
    if times:
        row("teacher_forward", round(tps, 1), "tok/s", "%d x %d tokens, %.1f s/row, 32 rows ~ %.0f s" % (
            a.rows, a.seq, sum(times) / a.rows, 32 * a.seq / tps))

    # 3./4. training steps
    bridge_p = list(student.bridge.parameters())
    neo_p = [p for n, p in student.named_parameters() if not n.startswith("bridge.")]
    opt = torch.optim.AdamW([{"params": bridge_p, "lr": 1e-4}, {"params": neo_p, "lr": 5e-5}],
                            betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    student.train()

    def step(x, H):
        loss = F.cross_entropy(student(H)[0, :-1], x[0, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(bridge_p + neo_p, 1.0)
        opt.step()
        return loss.item()

    x, Hc = ids(a.seq), torch.randn(1, a.seq, qc["d"])
    reset_peak()
    losses, times = [], []
    for i in range(a.steps + 1):
        t0 = time.perf_counter()
        losses.append(round(step(x, Hc), 4))
        if i:
            times.append(time.perf_counter() - t0)
    med = median(times)
    R["train_step_cached"] = {"s_per_step": [round(t, 2) for t in times], "median_s": round(med, 2),
                              "tokens_per_s": round(a.seq / med, 1), "losses": losses, "peak_rss_mib": peak_mib(),
                              "ln_vocab": round(math.log(V), 4)}
    row("train_step_cached", round(med, 2), "s/step", "median of %d, %.1f tok/s, loss %s (ln V = %.2f), peak RSS %d MiB" % (
        a.steps, a.seq / med, losses[0], math.log(V), R["train_step_cached"]["peak_rss_mib"]))
    if teacher is None:
        R["loadavg_end"] = os.getloadavg()
        return report(a, R, rows)

    reset_peak()
    losses, times = [], []
    for _ in range(a.live_steps):
        x = ids(a.seq)
        t0 = time.perf_counter()
        with torch.no_grad():
            H = teacher(x)
        losses.append(round(step(x, H), 4))
        times.append(time.perf_counter() - t0)
    med = median(times)
    R["train_step_live"] = {"s_per_step": [round(t, 2) for t in times], "median_s": round(med, 2),
                            "tokens_per_s": round(a.seq / med, 1), "losses": losses, "peak_rss_mib": peak_mib()}
    row("train_step_live", round(med, 2), "s/step", "%d steps (no extra warm-up), %.1f tok/s, peak RSS %d MiB" % (
        a.live_steps, a.seq / med, R["train_step_live"]["peak_rss_mib"]))

    # 5. generation: greedy, KV caches everywhere; the causal bridge needs only the new query row
    del opt
    student.eval()
    reset_peak()
    with torch.no_grad():
        tcache, scache = [[] for _ in teacher.layers], {"bridge": [], "blocks": [[] for _ in student.blocks]}
        seq = ids(a.prompt)
        t0 = time.perf_counter()
        logits = student(teacher(seq, tcache), scache, last_only=True)
        prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(a.gen_tokens):
            tok = logits[:, -1].argmax(-1, keepdim=True)
            pos = seq.shape[1]
            seq = torch.cat((seq, tok), 1)
            logits = student(teacher(tok, tcache, pos), scache, pos, last_only=True)
        decode = time.perf_counter() - t0
        full = student(teacher(seq))[:, -1:]  # no-cache recompute of the last position, as a check
        diff = (full - logits).abs().max().item() / max(full.abs().max().item(), 1e-12)
    R["generate"] = {"prompt": a.prompt, "new_tokens": a.gen_tokens, "prefill_s": round(prefill, 3),
                     "decode_s": round(decode, 3), "tokens_per_s": round(a.gen_tokens / decode, 2),
                     "ms_per_token": round(1000 * decode / a.gen_tokens, 1), "cache_vs_full_rel_diff": diff,
                     "peak_rss_mib": peak_mib()}
    row("generate", R["generate"]["tokens_per_s"], "tok/s", "%d decode steps, %.0f ms/token; prefill %d tokens %.2f s; "
        "cache vs full rel diff %.1e" % (a.gen_tokens, 1000 * decode / a.gen_tokens, a.prompt, prefill, diff))

    R["loadavg_end"] = os.getloadavg()
    report(a, R, rows)


def report(a, R, rows):
    # clear_refs also resets ru_maxrss, so the process peak is the largest per-phase peak
    R["peak_rss_mib"] = max(v["peak_rss_mib"] for v in R.values() if isinstance(v, dict) and "peak_rss_mib" in v)
    print("torch %s, %d threads, load average start %s end %s, teacher weights %s, seq %d, peak RSS %d MiB%s" % (
        R["torch"], R["threads"], "/".join("%.2f" % v for v in R["loadavg_start"]),
        "/".join("%.2f" % v for v in R["loadavg_end"]), R["teacher_weights"], a.seq, R["peak_rss_mib"], " (TINY)" if a.tiny else ""))
    print("| measure | value | unit | notes | load 1m |\n| --- | --- | --- | --- | --- |")
    for r in rows:
        print("| %s | %s | %s | %s | %s |" % r)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(R, f)
    if a.json:
        print(json.dumps(R))


if __name__ == "__main__":
    main()
