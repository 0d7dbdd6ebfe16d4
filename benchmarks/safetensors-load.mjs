#!/usr/bin/env node
// Benchmark: load a generated ~1 GB F32 safetensors file with @llm-modules/loaders and compare with a plain
// fs.readFile of the same file. Reports peak RSS (must stay under 1.5x the file size) and MB/s.
//
//   pnpm --filter @llm-modules/loaders build && node benchmarks/safetensors-load.mjs [--json] [--size-mb 1024] [--runs 3] [--keep]
//
// The file is generated under the OS temp folder (never in the repository) and removed afterwards unless --keep.
// Each measurement runs in a fresh child process, so peak RSS (getrusage maxrss) belongs to that load alone.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const dist = new URL('../packages/loaders/dist/index.js', import.meta.url);
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);

async function child(mode, file) {
  const loaders = await import(dist.href); // loaded before timing, in every mode, so baselines match
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  let keep;
  if (mode === 'readFile') {
    keep = await readFile(file);
    bytes = keep.length;
  } else {
    if (mode === 'loadSafetensors') {
      keep = await loaders.loadSafetensors(file);
      for (const r of keep.values()) bytes += r.data.byteLength;
    } else {
      // one tensor at a time: read, use, drop
      const reader = await loaders.openSafetensors(file);
      for (const t of reader.header.tensors) bytes += (await reader.read(t.name)).data.byteLength;
      await reader.close();
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ mode, seconds, bytes, peakRssBytes, held: keep ? 1 : 0 }) + '\n');
}

/** Write a safetensors file of `count` F32 tensors [rows, 4096] by streaming, without holding it in memory. */
async function generate(file, sizeMb) {
  const perTensor = 64 * 1024 * 1024; // 64 MiB tensors, like large embedding/MLP matrices
  const count = Math.max(1, Math.round((sizeMb * 1024 * 1024) / perTensor));
  const rows = perTensor / 4 / 4096;
  const header = { __metadata__: { format: 'pt' } };
  for (let i = 0; i < count; i++) header[`model.layers.${String(i).padStart(3, '0')}.weight`] = { dtype: 'F32', shape: [rows, 4096], data_offsets: [i * perTensor, (i + 1) * perTensor] };
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const out = await open(file, 'w');
  try {
    await out.write(len);
    await out.write(json);
    const chunk = new Float32Array(4 * 1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = Math.sin(i) * 0.02;
    for (let written = 0; written < count * perTensor; written += chunk.byteLength) await out.write(new Uint8Array(chunk.buffer));
  } finally {
    await out.close();
  }
}

function measure(mode, file) {
  const r = spawnSync(process.execPath, [self, '--child', mode, file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr.trim().split('\n').at(-1)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

async function mainBench() {
  if (!existsSync(dist)) {
    console.error('benchmarks/safetensors-load.mjs: build the package first: pnpm --filter @llm-modules/loaders build');
    process.exit(1);
  }
  const sizeMb = Number(value('--size-mb', '1024'));
  const runs = Number(value('--runs', '3'));
  const file = value('--file', join(tmpdir(), `llm-modules-bench-${sizeMb}mb.safetensors`));
  if (!existsSync(file)) await generate(file, sizeMb);
  const fileBytes = statSync(file).size;
  measure('readFile', file); // warm the page cache so every mode reads from memory alike
  const baseline = measure('baseline', file);
  const modes = ['readFile', 'loadSafetensors', 'one-at-a-time'];
  const rows = [];
  for (const mode of modes) {
    const samples = Array.from({ length: runs }, () => measure(mode, file));
    samples.sort((a, b) => a.seconds - b.seconds);
    const med = samples[Math.floor(samples.length / 2)];
    const peak = Math.max(...samples.map((s) => s.peakRssBytes));
    rows.push({ mode, seconds: med.seconds, mbPerSec: fileBytes / 1e6 / med.seconds, peakRssMb: peak / 1e6, peakRssOverFile: peak / fileBytes });
  }
  const result = {
    file,
    fileBytes,
    runs,
    node: process.version,
    baselineRssMb: baseline.peakRssBytes / 1e6,
    rows,
    pass: rows.find((r) => r.mode === 'loadSafetensors').peakRssOverFile < 1.5,
  };
  if (!flag('--keep')) unlinkSync(file);
  if (flag('--json')) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  console.log(`safetensors load: ${(fileBytes / 1e6).toFixed(0)} MB F32 file, ${runs} runs each (median time, max peak RSS), node ${process.version}`);
  console.log(`baseline RSS of a child that loads the package and reads nothing: ${result.baselineRssMb.toFixed(0)} MB`);
  console.log('| mode | time (s) | MB/s | peak RSS (MB) | peak RSS / file |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) console.log(`| ${r.mode} | ${r.seconds.toFixed(3)} | ${r.mbPerSec.toFixed(0)} | ${r.peakRssMb.toFixed(0)} | ${r.peakRssOverFile.toFixed(2)}x |`);
  console.log(`peak RSS while loading < 1.5x file size: ${result.pass ? 'PASS' : 'FAIL'}`);
  if (!result.pass) process.exitCode = 1;
}

if (args[0] === '--child') {
  if (args[1] === 'baseline') {
    await import(dist.href);
    process.stdout.write(JSON.stringify({ mode: 'baseline', seconds: 0, bytes: 0, peakRssBytes: process.resourceUsage().maxRSS * 1024 }) + '\n');
  } else await child(args[1], args[2]);
} else {
  await mainBench();
}
