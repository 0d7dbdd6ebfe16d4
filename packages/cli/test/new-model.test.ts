/** `llm-modules new-model`: random Hugging Face folders that load back, with the right statistics, reproducibly. */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSafetensors, readShardIndex, writeSafetensors } from '@llm-modules/loaders';
import { createModel, loadPretrained } from '@llm-modules/transformer';
import { newModelCommand } from '../src/index.js';
import { lastJson, run } from './run.js';
import { NormalStream } from '../src/new-model/normal.js';
import { parseSize, planShards } from '../src/new-model/shards.js';

const fixtures = fileURLToPath(new URL('../../transformer/test/fixtures/', import.meta.url));
const config = (name: string) => join(fixtures, 'models', name, 'config.json');
const asciiTokenizer = join(fixtures, 'tokenizer-ascii');

const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});
async function temp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'llm-new-model-'));
  temps.push(d);
  return d;
}
const oneLineError = (r: { code: number; err: string }, pattern: RegExp) => {
  expect(r.code).toBe(1);
  expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(/^llm-modules: /);
  expect(r.err).not.toMatch(/internal error/);
  expect(r.err).toMatch(pattern);
};

/** mean and standard deviation (float64) */
function moments(xs: ArrayLike<number>): { mean: number; std: number; n: number } {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  const mean = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / xs.length), n: xs.length };
}

describe('llm-modules new-model', () => {
  for (const [name, dtype] of [['gptneo', 'f32'], ['gptneo', 'bf16'], ['qwen2-tied', 'f32'], ['qwen2-untied-bf16-sharded', 'bf16']] as const) {
    it(`${name} ${dtype}, forced sharding: loadPretrained loads every tensor with the right shape and init`, async () => {
      const out = join(await temp(), 'model');
      const r = await run('new-model', '--config', config(name), '--out', out, '--dtype', dtype, '--seed', '7', '--shard-size', '20KB', '--tokenizer', asciiTokenizer, '--json');
      expect(r).toMatchObject({ code: 0, err: '' });
      const summary = lastJson(r.out);
      const files = (await readdir(out)).sort();
      expect(files).toContain('model.safetensors.index.json');
      expect(files).not.toContain('model.safetensors');
      expect(files).toEqual(expect.arrayContaining(['config.json', 'tokenizer.json', 'tokenizer_config.json']));
      expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
      expect([...summary.files].sort()).toEqual(files);
      const { model, params, tokenizer } = await loadPretrained(out);
      expect(tokenizer).not.toBeNull();
      const shapes = model.parameterShapes();
      expect(Object.keys(params).sort()).toEqual([...shapes.keys()].sort());
      for (const [n, shape] of shapes) expect(params[n].shape, n).toEqual(shape);
      expect(summary).toMatchObject({ model_type: model.config.model_type, tensors: shapes.size, dtype: dtype.toUpperCase(), seed: 7 });
      expect(summary.parameters).toBe([...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0));
      // the index: HF layout, total_size = data bytes, every tensor mapped to the shard that holds it
      const index = JSON.parse(await readFile(join(out, 'model.safetensors.index.json'), 'utf8'));
      expect(Object.keys(index)).toEqual(['metadata', 'weight_map']);
      expect(index.metadata.total_size).toBe(summary.parameters * (dtype === 'f32' ? 4 : 2));
      expect(Object.keys(index.weight_map)).toEqual([...shapes.keys()].sort());
      const shards = await readShardIndex(join(out, 'model.safetensors.index.json'));
      for (const [file, names] of shards) expect([...(await loadSafetensors(file)).keys()].sort()).toEqual(names.sort());
      // config.json keeps the given fields and records the storage dtype
      const given = JSON.parse(await readFile(config(name), 'utf8'));
      const written = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
      expect(written).toEqual({ ...given, torch_dtype: dtype === 'f32' ? 'float32' : 'bfloat16' });
      // HF _init_weights: norm weights 1, biases 0, the rest normal(0, initializer_range)
      const std = model.config.initializer_range;
      for (const [n, t] of Object.entries(params)) {
        const data = (await t.data()) as Float32Array;
        if (/(norm|ln_[12f])\.weight$/.test(n)) expect(data.every((v) => v === 1), n).toBe(true);
        else if (n.endsWith('.bias')) expect(data.every((v) => v === 0), n).toBe(true);
        else {
          const m = moments(data);
          expect(Math.abs(m.mean), n).toBeLessThan((5 * std) / Math.sqrt(m.n)); // 5 standard errors
          expect(Math.abs(m.std / std - 1), n).toBeLessThan(0.15); // small tensors: loose per tensor
        }
      }
    });
  }

  it('values: mean 0 and std within 5 % of initializer_range over ≥ 10k samples, bf16 too; pad row zeroed', async () => {
    const dir = await temp();
    const cfg = { model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], vocab_size: 1000, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, initializer_range: 0.02, pad_token_id: 3, tie_word_embeddings: true };
    await writeFile(join(dir, 'config.json'), JSON.stringify(cfg));
    for (const dtype of ['f32', 'bf16']) {
      const out = join(dir, dtype);
      expect((await run('new-model', '--config', join(dir, 'config.json'), '--out', out, '--dtype', dtype, '--json')).code).toBe(0);
      const { params } = await loadPretrained(out);
      const embed = (await params['model.embed_tokens.weight'].data()) as Float32Array;
      expect(embed.subarray(3 * 64, 4 * 64).every((v) => v === 0)).toBe(true);
      const rest = Float32Array.from([...embed.subarray(0, 3 * 64), ...embed.subarray(4 * 64)]);
      const m = moments(rest);
      expect(m.n).toBeGreaterThanOrEqual(10_000);
      expect(Math.abs(m.mean)).toBeLessThan((4 * 0.02) / Math.sqrt(m.n));
      expect(Math.abs(m.std / 0.02 - 1)).toBeLessThan(0.05);
    }
  });

  it('the normal stream: moments and tail masses of N(0,1) on 1M samples; streams differ by seed and by name', () => {
    const x = new Float32Array(1 << 20);
    new NormalStream(0, 'w').fill(x);
    const n = x.length;
    let [s1, s2, s4, over1, over2, over3] = [0, 0, 0, 0, 0, 0];
    for (const v of x) {
      s1 += v;
      s2 += v * v;
      s4 += v ** 4;
      const a = Math.abs(v);
      over1 += a > 1 ? 1 : 0;
      over2 += a > 2 ? 1 : 0;
      over3 += a > 3 ? 1 : 0;
    }
    expect(Math.abs(s1 / n)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.01); // var of x² is 2: 5 s.e. ≈ 0.007
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.1); // kurtosis 3 (s.e. ≈ 0.01)
    // P(|X| > t) = erfc(t/√2): 0.31731, 0.04550, 0.0026998
    for (const [count, p] of [[over1, 0.31731], [over2, 0.0455], [over3, 0.0026998]]) expect(Math.abs(count / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    const y = new Float32Array(8);
    const z = new Float32Array(8);
    new NormalStream(0, 'w').fill(y);
    expect(y).toEqual(x.subarray(0, 8));
    new NormalStream(1, 'w').fill(z);
    expect(z).not.toEqual(y);
    new NormalStream(0, 'v').fill(z);
    expect(z).not.toEqual(y);
  });

  it('same seed → identical bytes; another seed → other values; sharded and single files hold the same tensors', async () => {
    const dir = await temp();
    const make = async (name: string, ...extra: string[]) => {
      const out = join(dir, name);
      expect((await run('new-model', '--config', config('qwen2-tied'), '--out', out, '--json', ...extra)).code).toBe(0);
      return out;
    };
    const [a, b, c] = [await make('a', '--seed', '5'), await make('b', '--seed', '5'), await make('c', '--seed', '6')];
    const bytes = (d: string) => readFile(join(d, 'model.safetensors'));
    expect((await bytes(a)).equals(await bytes(b))).toBe(true);
    expect((await bytes(a)).equals(await bytes(c))).toBe(false);
    const single = await loadSafetensors(a);
    const sharded = await loadSafetensors(await make('d', '--seed', '5', '--shard-size', '10000'));
    expect([...sharded.keys()].sort()).toEqual([...single.keys()].sort());
    for (const [n, t] of single) expect(sharded.get(n)!.data, n).toEqual(t.data);
  });

  it('the file is byte for byte what writeSafetensors writes for the same tensors (f32 and bf16)', async () => {
    const dir = await temp();
    for (const dtype of ['f32', 'bf16'] as const) {
      const out = join(dir, dtype);
      expect((await run('new-model', '--config', config('gptneo'), '--out', out, '--dtype', dtype, '--json')).code).toBe(0);
      const again = join(dir, `${dtype}.safetensors`);
      await writeSafetensors(again, await loadSafetensors(out), { dtype: dtype === 'f32' ? 'F32' : 'BF16' });
      expect((await readFile(join(out, 'model.safetensors'))).equals(await readFile(again))).toBe(true);
    }
  });

  it('names and shapes match the model definitions: tied heads are left out, GPT-Neo has no attention buffers', async () => {
    const out = join(await temp(), 'neo');
    await newModelCommand({ config: config('gptneo'), out, json: true }, { stdout: () => {}, stderr: () => {} });
    const names = [...(await loadSafetensors(out)).keys()];
    expect(names).not.toContain('lm_head.weight');
    expect(names).toContain('transformer.h.0.attn.attention.k_proj.weight');
    expect(names.some((n) => /attn\.attention\.(bias|masked_bias)$/.test(n))).toBe(false);
    const { model } = await loadPretrained(out);
    expect(names.sort()).toEqual([...createModel(model.config).parameterShapes().keys()].sort());
  });

  it('progress on stderr and a summary line without --json', async () => {
    const r = await run('new-model', '--config', config('gptneo'), '--out', join(await temp(), 'm'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^new-model: gpt_neo \(GPTNeoForCausalLM\), \d+ tensors/);
    expect(r.err).toMatch(/\[\d+\/\d+\] model\.safetensors /);
    expect(r.out).toMatch(/^wrote .*: [\d,]+ parameters .* in \d+ files .* s\n$/);
  });

  it('bad input: one clear line, nothing left behind', async () => {
    const dir = await temp();
    const out = join(dir, 'out');
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ model_type: 'qwen2', vocab_size: 10, hidden_size: 8 }));
    oneLineError(await run('new-model', '--config', join(dir, 'bad.json'), '--out', out), /bad\.json: "num_attention_heads" is missing/);
    await writeFile(join(dir, 'broken.json'), '{"model_type": ');
    oneLineError(await run('new-model', '--config', join(dir, 'broken.json'), '--out', out), /broken\.json: not valid JSON/);
    oneLineError(await run('new-model', '--config', join(dir, 'none.json'), '--out', out), /none\.json: cannot read/);
    oneLineError(await run('new-model', '--config', config('gptneo'), '--out', out, '--dtype', 'int8'), /--dtype must be bf16, f16 or f32/);
    oneLineError(await run('new-model', '--config', config('gptneo'), '--out', out, '--seed', '-1'), /--seed must be an integer/);
    oneLineError(await run('new-model', '--config', config('gptneo'), '--out', out, '--shard-size', 'big'), /--shard-size must be a size/);
    oneLineError(await run('new-model', '--config', config('gptneo'), '--out', out, '--tokenizer', dir), /no tokenizer\.json or vocab\.json/);
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'mine');
    oneLineError(await run('new-model', '--config', config('gptneo'), '--out', out), /out: folder exists and is not empty/);
    expect(await readdir(out)).toEqual(['keep.txt']);
    expect((await readdir(dir)).sort()).toEqual(['bad.json', 'broken.json', 'out']);
  });

  it('an interrupted run (abort signal, as Ctrl-C) removes its temp folder and creates no --out', async () => {
    const dir = await temp();
    const out = join(dir, 'm');
    const early = new AbortController();
    early.abort(new Error('interrupted by SIGINT'));
    await expect(newModelCommand({ config: config('qwen2-tied'), out, signal: early.signal, json: true }, { stdout: () => {}, stderr: () => {} })).rejects.toThrow(/SIGINT/);
    expect(await readdir(dir)).toEqual([]);
    // aborted mid-run, after the first tensor of the second shard has been written
    const mid = new AbortController();
    const stderr = (s: string) => void (s.includes('model-00002-of') && mid.abort(new Error('interrupted by SIGTERM')));
    await expect(newModelCommand({ config: config('qwen2-tied'), out, signal: mid.signal, shardSize: '10KB' }, { stdout: () => {}, stderr })).rejects.toThrow(/SIGTERM/);
    expect(mid.signal.aborted).toBe(true);
    expect(await readdir(dir)).toEqual([]);
    // an existing empty folder is fine and filled
    await mkdir(out);
    await newModelCommand({ config: config('qwen2-tied'), out, json: true }, { stdout: () => {}, stderr: () => {} });
    expect((await readdir(out)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
  });

  it('shard sizes and plans follow Hugging Face', () => {
    expect(parseSize('5GB')).toBe(5e9);
    expect(parseSize('2GiB')).toBe(2 * 2 ** 30);
    expect(parseSize('500mb')).toBe(5e8);
    expect(parseSize('1234')).toBe(1234);
    expect(parseSize('0')).toBeNull();
    expect(parseSize('5 GB')).toBe(5e9);
    expect(parseSize('lots')).toBeNull();
    const t = (name: string, bytes: number) => ({ name, bytes });
    expect(planShards([t('a', 4), t('b', 4), t('c', 4)], 8)).toEqual([['a', 'b'], ['c']]);
    expect(planShards([t('a', 20), t('b', 4)], 8)).toEqual([['a'], ['b']]);
    expect(planShards([t('a', 1), t('b', 20), t('c', 1)], 8)).toEqual([['a'], ['b'], ['c']]);
  });
});
