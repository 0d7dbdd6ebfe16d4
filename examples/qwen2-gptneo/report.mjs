#!/usr/bin/env node
/**
 * The table of measure.sh's results (markdown on stdout, `--json` for one object), with PyTorch's figures for the
 * same workloads beside ours when their JSON is given (benchmarks/pytorch/paper_scale.py --json --out FILE: a run
 * with the teacher, and one with --no-teacher for the memory of training from a cache alone).
 *   node report.mjs standin/measurements.jsonl standin/metrics-cached.jsonl standin/metrics-live.jsonl
 *        [--pytorch pt.json] [--pytorch-no-teacher pt-no-teacher.json] [--json]
 */
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const optionFile = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const file = argv[i + 1];
  argv.splice(i, 2);
  // Python's json writes NaN (a phase it skipped) where JSON has null
  return JSON.parse(readFileSync(file, 'utf8').trim().split('\n').pop().replace(/\bNaN\b/g, 'null'));
};
const pt = optionFile('--pytorch') ?? {};
const ptNoTeacher = optionFile('--pytorch-no-teacher') ?? {};
const args = argv.filter((a) => a !== '--json');
const lines = (f) => readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const [measured, cached, live] = args.map(lines);
const by = Object.fromEntries(measured.map((m) => [m.step, m]));
const steps = (metrics) => metrics.filter((e) => e.type === 'step');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const gb = (b) => (b / 2 ** 30).toFixed(2);
const rows = [];
const gib = (mib) => (mib === undefined ? null : Number((mib / 1024).toFixed(2)));
/** a row; `torch` is PyTorch's figure for the same workload, `speed` ours / PyTorch's (above 1: we are faster) */
const add = (what, figure, rss, torch) =>
  rows.push({ what, figure, peak_rss_gb: rss ?? null, pytorch: torch?.figure ?? null, pytorch_peak_rss_gb: torch?.rss ?? null, speed_ratio: torch?.speed ?? null });
const ratio = (x) => (Number.isFinite(x) ? Number(x.toFixed(2)) : null);

if (by['new-model']) add('new-model: random Qwen2-1.5B, bf16 (3.09 GB file)', `${by['new-model'].seconds} s`, by['new-model'].peak_rss_gb);
add('load the bf16 teacher bfloat16-resident (train --dry-run: load + checks; PyTorch: into float32)', `${by['load-teacher'].seconds} s`, by['load-teacher'].peak_rss_gb,
  pt.load?.s && { figure: `${pt.load.s} s`, rss: gib(pt.load.peak_rss_mib), speed: ratio(pt.load.s / by['load-teacher'].seconds) });
const c = by['cache-teacher'];
const ourTeacherRate = c.summary.tokens / c.summary.seconds;
const ptTeacher = pt.teacher_forward;
add(`cache-teacher: ${c.summary.examples} rows × 512 tokens`, `${c.summary.seconds} s, ${ourTeacherRate.toFixed(1)} tokens/s; cache ${gb(by['cache-size'].bytes)} GiB`, c.peak_rss_gb,
  Number.isFinite(ptTeacher?.tokens_per_s) && { figure: `${ptTeacher.tokens_per_s} tokens/s (${ptTeacher.rows} rows)`, rss: gib(ptTeacher.peak_rss_mib), speed: ratio(ourTeacherRate / ptTeacher.tokens_per_s) });
const sc = steps(cached);
const ourCached = median(sc.map((e) => e.seconds));
// PyTorch's memory of training from a cache alone is its --no-teacher run (the run with the teacher holds it too)
const ptCached = ptNoTeacher.train_step_cached ?? pt.train_step_cached;
add(`train from the cache: ${sc.length} steps × ${sc[0].tokens} target tokens`, `${ourCached.toFixed(1)} s/step (median; first ${sc[0].seconds.toFixed(1)} s), ${median(sc.map((e) => e.tokensPerSecond)).toFixed(1)} tokens/s; run ${by['train-cached'].seconds} s`, by['train-cached'].peak_rss_gb,
  ptCached && { figure: `${ptCached.median_s} s/step${ptNoTeacher.train_step_cached ? ' (no teacher built)' : ' (teacher loaded)'}`, rss: gib(ptCached.peak_rss_mib), speed: ratio(ptCached.median_s / ourCached) });
add('checkpoint (params + AdamW moments, float32)', `${gb(by['checkpoint-size'].bytes)} GiB; bridge folder weights ${gb(by['checkpoint-size'].bridge_folder_bytes)} GiB`);
add('resume from the checkpoint (--resume --max-steps 6)', `${by['train-resume'].summary.steps} steps after resuming at 5; run ${by['train-resume'].seconds} s`, by['train-resume'].peak_rss_gb);
const sl = steps(live);
const ourLive = median(sl.map((e) => e.seconds));
const ptLive = pt.train_step_live;
add(`train with the teacher live: ${sl.length} steps`, `${ourLive.toFixed(1)} s/step (median), ${median(sl.map((e) => e.tokensPerSecond)).toFixed(1)} tokens/s`, by['train-live'].peak_rss_gb,
  ptLive && { figure: `${ptLive.median_s} s/step`, rss: gib(ptLive.peak_rss_mib), speed: ratio(ptLive.median_s / ourLive) });
const long = by['train-live-2048'];
if (long) add('train with the teacher live: 1 step of 2,048 tokens', `run ${long.seconds} s (load, step, checkpoint)`, long.peak_rss_gb);
const g = by.generate.summary;
const ptGen = pt.generate;
add(`generate ${g.generated_ids.length} tokens (teacher, bridge and student incremental)`, `${g.decode_tokens_per_second} tokens/s after the first; first token ${g.first_token_seconds} s (prompt ${g.prompt_ids.length} tokens)`, by.generate.peak_rss_gb,
  ptGen && { figure: `${ptGen.tokens_per_s} tokens/s (prompt ${ptGen.prompt} tokens)`, rss: gib(ptGen.peak_rss_mib), speed: ratio(g.decode_tokens_per_second / ptGen.tokens_per_s) });

// The paper's full run from the measured per-token costs. Assumptions (not measured here): the real data's kept
// rows average MEAN_TOKENS after the 2,048 cut; GPU and price figures are stated assumptions, since no GPU was
// available to this project. FLOP counts are the matmul FLOPs (attention's T² terms excluded).
const ROWS = 16_710 * 0.3; // 30 % subset per the recipe
const KEPT = 0.85; // share of rows ≤ 4,096 tokens (synthetic stand-in: 86 %)
const TRAIN_SHARE = 0.9;
const MEAN_TOKENS = 1_800;
const EPOCHS = 15;
// per-token cost at the real rows' length relative to 512 tokens: training measured (a forward + backward at
// 2,048 tokens cost 1.9× per token what it costs at 512); the teacher's is assumed (its attention grows with T)
const TRAIN_LENGTH_FACTOR = 1.9;
const TEACHER_LENGTH_FACTOR = 1.3;
const GPU_TFLOPS = 2; // gpu.js WebGL kernels (untiled, one output per thread) on an L4-class GPU: a guess
const FLOP_TEACHER = 2 * 1.31e9; // per token: non-embedding Qwen2-1.5B forward
const FLOP_TRAIN = 6 * 219.5e6; // per token: forward + backward of bridge, blocks, head
const PRICE = { cpu: 0.07, gpu: 0.7 }; // $/hour: a 2-vCPU VM, an L4 instance (assumed list prices)
const tokensPerEpoch = ROWS * KEPT * TRAIN_SHARE * MEAN_TOKENS;
const total = tokensPerEpoch * EPOCHS;
const sTeacher = (c.summary.seconds / c.summary.tokens) * TEACHER_LENGTH_FACTOR;
const sCached = (median(sc.map((e) => e.seconds)) / sc[0].tokens) * TRAIN_LENGTH_FACTOR;
const sLive = sCached + sTeacher; // a live step = the teacher's forward + a step from the cache
const days = (s) => s / 86_400;
const estimate = {
  assumptions: { rows_per_epoch: Math.round(ROWS * KEPT * TRAIN_SHARE), mean_tokens: MEAN_TOKENS, epochs: EPOCHS, tokens_total: Math.round(total), train_length_factor: TRAIN_LENGTH_FACTOR, teacher_length_factor: TEACHER_LENGTH_FACTOR, gpu_tflops: GPU_TFLOPS, price_per_hour: PRICE },
  cpu_released_live_days: days(total * sLive),
  cpu_cached_days: days(tokensPerEpoch * sTeacher + total * sCached),
  cache_disk_gb: (tokensPerEpoch / TRAIN_SHARE) * 1536 * 2 / 1e9,
  flop_total_live: total * (FLOP_TEACHER + FLOP_TRAIN),
  flop_total_cached: tokensPerEpoch * FLOP_TEACHER + total * FLOP_TRAIN,
};
estimate.gpu_live_hours = estimate.flop_total_live / (GPU_TFLOPS * 1e12) / 3600;
estimate.gpu_cached_hours = estimate.flop_total_cached / (GPU_TFLOPS * 1e12) / 3600;
estimate.cost = {
  cpu_live: days(total * sLive) * 24 * PRICE.cpu,
  cpu_cached: estimate.cpu_cached_days * 24 * PRICE.cpu,
  gpu_live: estimate.gpu_live_hours * PRICE.gpu,
  gpu_cached: estimate.gpu_cached_hours * PRICE.gpu,
};

if (process.argv.includes('--json')) console.log(JSON.stringify({ rows, estimate }));
else {
  console.log('| step | ours | peak RSS (GiB) | PyTorch | peak RSS (GiB) | ours / PyTorch (speed) |\n| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.what} | ${r.figure} | ${r.peak_rss_gb ?? ''} | ${r.pytorch ?? '—'} | ${r.pytorch_peak_rss_gb ?? ''} | ${r.speed_ratio === null ? '' : `${r.speed_ratio}×`} |`);
  const f = (x, d = 1) => x.toFixed(d);
  console.log(`\nFull run estimate (${f(total / 1e6)} M training tokens = ${estimate.assumptions.rows_per_epoch} rows × ${MEAN_TOKENS} tokens × ${EPOCHS} epochs):`);
  console.log('| | this CPU (measured per-token cost) | GPU via gpu.js (assumed ' + GPU_TFLOPS + ' TFLOPS) |\n| --- | --- | --- |');
  console.log(`| as released: teacher live every step (${f(estimate.flop_total_live / 1e15, 0)} PFLOP) | ${f(estimate.cpu_released_live_days)} days, $${f(estimate.cost.cpu_live, 0)} | ${f(estimate.gpu_live_hours)} h, $${f(estimate.cost.gpu_live, 0)} |`);
  console.log(`| teacher cached once (${f(estimate.flop_total_cached / 1e15, 0)} PFLOP; cache ${f(estimate.cache_disk_gb, 0)} GB) | ${f(estimate.cpu_cached_days)} days, $${f(estimate.cost.cpu_cached, 0)} | ${f(estimate.gpu_cached_hours)} h, $${f(estimate.cost.gpu_cached, 0)} |`);
}
