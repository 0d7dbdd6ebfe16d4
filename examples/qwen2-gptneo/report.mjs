#!/usr/bin/env node
/**
 * The table of measure.sh's results (markdown on stdout, `--json` for one object).
 *   node report.mjs standin/measurements.jsonl standin/metrics-cached.jsonl standin/metrics-live.jsonl [--json]
 */
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2).filter((a) => a !== '--json');
const lines = (f) => readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const [measured, cached, live] = args.map(lines);
const by = Object.fromEntries(measured.map((m) => [m.step, m]));
const steps = (metrics) => metrics.filter((e) => e.type === 'step');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const gb = (b) => (b / 2 ** 30).toFixed(2);
const rows = [];
const add = (what, figure, rss) => rows.push({ what, figure, peak_rss_gb: rss ?? null });

if (by['new-model']) add('new-model: random Qwen2-1.5B, bf16 (3.09 GB file)', `${by['new-model'].seconds} s`, by['new-model'].peak_rss_gb);
add('load the bf16 teacher as float32 (train --dry-run: load + checks)', `${by['load-teacher'].seconds} s`, by['load-teacher'].peak_rss_gb);
const c = by['cache-teacher'];
add(`cache-teacher: ${c.summary.examples} rows × 512 tokens`, `${c.summary.seconds} s, ${(c.summary.tokens / c.summary.seconds).toFixed(1)} tokens/s; cache ${gb(by['cache-size'].bytes)} GiB`, c.peak_rss_gb);
const sc = steps(cached);
add(`train from the cache: ${sc.length} steps × ${sc[0].tokens} target tokens`, `${median(sc.map((e) => e.seconds)).toFixed(1)} s/step (median; first ${sc[0].seconds.toFixed(1)} s), ${median(sc.map((e) => e.tokensPerSecond)).toFixed(1)} tokens/s; run ${by['train-cached'].seconds} s`, by['train-cached'].peak_rss_gb);
add('checkpoint (params + AdamW moments, float32)', `${gb(by['checkpoint-size'].bytes)} GiB; bridge folder weights ${gb(by['checkpoint-size'].bridge_folder_bytes)} GiB`);
add('resume from the checkpoint (--resume --max-steps 6)', `${by['train-resume'].summary.steps} steps after resuming at 5; run ${by['train-resume'].seconds} s`, by['train-resume'].peak_rss_gb);
const sl = steps(live);
add(`train with the teacher live: ${sl.length} steps`, `${median(sl.map((e) => e.seconds)).toFixed(1)} s/step (median), ${median(sl.map((e) => e.tokensPerSecond)).toFixed(1)} tokens/s`, by['train-live'].peak_rss_gb);
const g = by.generate.summary;
add(`generate ${g.generated_ids.length} tokens (teacher, bridge and student incremental)`, `${g.decode_tokens_per_second} tokens/s after the first; first token ${g.first_token_seconds} s (prompt ${g.prompt_ids.length} tokens)`, by.generate.peak_rss_gb);

if (process.argv.includes('--json')) console.log(JSON.stringify(rows));
else {
  console.log('| step | figure | peak RSS (GB) |\n| --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.what} | ${r.figure} | ${r.peak_rss_gb ?? ''} |`);
}
