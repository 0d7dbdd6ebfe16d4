import { copyFile, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run, lastJson } from './run.js';

const fixtures = fileURLToPath(new URL('../../loaders/test/fixtures/', import.meta.url));
const fx = (...p: string[]) => join(fixtures, ...p);



const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});
async function modelDir(safetensors: Uint8Array | null, config?: object): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'llm-cli-'));
  temps.push(dir);
  if (config) await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  else await copyFile(fx('models/gptneo/config.json'), join(dir, 'config.json'));
  if (safetensors) await writeFile(join(dir, 'model.safetensors'), safetensors);
  return dir;
}
function st(header: object | string, data = new Uint8Array(0), len?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(len ?? BigInt(json.length));
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('llm-modules tokenize', () => {
  it('--json prints {"ids":[...]} equal to the reference encodings (GPT-2 and Qwen2)', async () => {
    const gpt2 = JSON.parse(await readFile(fx('tokenizers/gpt2/reference_encodings.json'), 'utf8')).cases;
    const qwen2 = JSON.parse(await readFile(fx('tokenizers/qwen2/reference_encodings.json'), 'utf8')).cases;
    for (const [name, c, ids] of [['gpt2', gpt2[10], gpt2[10].ids_hf], ['qwen2', qwen2[19], qwen2[19].ids], ['qwen2', qwen2[25], qwen2[25].ids]]) {
      const r = await run('tokenize', '--model', fx('tokenizers', name), '--text', c.text, '--json');
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(lastJson(r.out)).toEqual({ ids });
    }
    const plain = await run('tokenize', '--model', fx('tokenizers/gpt2'), '--text', 'Hello world');
    expect(plain).toEqual({ code: 0, out: '15496 995\n', err: '' });
  });

  it('missing folder, folder without tokenizer files, missing option: one line on stderr, exit 1', async () => {
    const dir = await modelDir(null);
    for (const argv of [['tokenize', '--model', join(dir, 'nope'), '--text', 'x'], ['tokenize', '--model', dir, '--text', 'x'], ['tokenize', '--text', 'x']]) {
      const r = await run(...argv);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      expect(r.err).not.toMatch(/\bat .*:\d+:\d+/); // no stack frames
    }
    expect((await run('tokenize', '--model', dir, '--text', 'x')).err).toBe(`llm-modules: ${dir}: no tokenizer.json, vocab.json + merges.txt, or encoder.json + vocab.bpe in this folder\n`);
  });
});

describe('llm-modules inspect', () => {
  it('summarises the fixture folders: model type, config, tensors, parameters, dtypes, bytes', async () => {
    const neo = await run('inspect', fx('models/gptneo'), '--json');
    expect(neo.code).toBe(0);
    expect(lastJson(neo.out)).toMatchObject({ model_type: 'gpt_neo', tensor_count: 56, parameter_count: 38976, total_bytes: 155904, dtypes: { F32: { tensors: 56 } } });
    expect(lastJson(neo.out).config).toMatchObject({ attention_layers: ['global', 'local', 'global', 'local'], window_size: 5 });
    const sharded = await run('inspect', fx('models/qwen2-untied-bf16-sharded'), '--json');
    // total_bytes equals the index's metadata.total_size; bf16 → 2 bytes per parameter
    expect(lastJson(sharded.out)).toMatchObject({ model_type: 'qwen2', tensor_count: 39, parameter_count: 62784, total_bytes: 125568, dtypes: { BF16: { tensors: 39 } } });
    expect(lastJson(sharded.out).files).toHaveLength(2);
    const text = await run('inspect', fx('models/qwen2-tied'));
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/model_type\s+qwen2 \(Qwen2ForCausalLM\)/);
    expect(text.out).toMatch(/tensors\s+38\n/);
    expect(text.out).toMatch(/num_key_value_heads=2/);
    const list = await run('inspect', fx('models/qwen2-tied'), '--tensors');
    expect(list.out).toMatch(/ {2}model\.embed_tokens\.weight {2}F32 {2}\[96, 48\]/);
  });

  const f32 = (n: number) => new Uint8Array(new Float32Array(n).buffer);
  const w = (dtype: string, shape: number[], o: [number, number]) => ({ dtype, shape, data_offsets: o });
  const hostile: Array<[string, () => Promise<string>, RegExp]> = [
    ['truncated file', async () => modelDir(new Uint8Array([1, 0, 0])), /model\.safetensors: truncated/],
    ['header length beyond the file', async () => modelDir(st({}, new Uint8Array(0), 4096n)), /model\.safetensors: header length 4096 bytes goes beyond the end of the file/],
    ['invalid JSON', async () => modelDir(st('{"a": ')), /model\.safetensors: header is not valid JSON/],
    ['overlapping offsets', async () => modelDir(st({ a: w('F32', [2], [0, 8]), b: w('F32', [2], [4, 12]) }, f32(3))), /model\.safetensors: tensor "b": data_offsets \[4, 12\] overlap/],
    ['out-of-range offsets', async () => modelDir(st({ a: w('F32', [4], [0, 16]) }, f32(2))), /model\.safetensors: tensor "a": data_offsets \[0, 16\] go beyond the 8-byte data section/],
    ['shape × dtype ≠ bytes', async () => modelDir(st({ a: w('F32', [3], [0, 8]) }, f32(2))), /model\.safetensors: tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets span 8/],
    ['unknown dtype', async () => modelDir(st({ a: w('Q4', [2], [0, 8]) }, f32(2))), /model\.safetensors: tensor "a": unknown dtype "Q4"/],
    ['duplicate names', async () => modelDir(st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32(1))), /duplicate tensor name "a"/],
    ['header over 100 MB', async () => {
      const dir = await modelDir(null);
      const fh = await open(join(dir, 'model.safetensors'), 'w');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(200_000_000n);
      await fh.write(len, 0, 8, 0);
      await fh.truncate(8 + 200_000_000); // sparse
      await fh.close();
      return dir;
    }, /model\.safetensors: header length 200000000 bytes is over the 100 MB limit/],
    ['unknown model_type', async () => modelDir(st({}), { model_type: 'llama' }), /config\.json: unknown model_type "llama"/],
    ['no weights', async () => modelDir(null), /no model\.safetensors or model\.safetensors\.index\.json/],
    ['missing shard', async () => {
      const dir = await modelDir(null);
      await copyFile(fx('models/qwen2-untied-bf16-sharded/model.safetensors.index.json'), join(dir, 'model.safetensors.index.json'));
      return dir;
    }, /model-0000[12]-of-00002\.safetensors: cannot open: no such file/],
  ];
  for (const [name, make, message] of hostile) {
    it(`hostile input (${name}): one-line error naming the file, exit 1`, async () => {
      const dir = await make();
      const r = await run('inspect', dir);
      expect(r.code).toBe(1);
      expect(r.out).toBe('');
      expect(r.err.endsWith('\n')).toBe(true);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      expect(r.err.startsWith('llm-modules: ')).toBe(true);
      expect(r.err).toMatch(message);
      expect(r.err).toContain(dir);
    });
  }

  it('inspects a checkpoint folder written by saveCheckpoint', async () => {
    const { saveCheckpoint } = await import('@llm-modules/loaders');
    const dir = await mkdtemp(join(tmpdir(), 'llm-cli-ck-'));
    temps.push(dir);
    await mkdir(dir, { recursive: true });
    await saveCheckpoint(dir, { params: { a: { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) } }, step: 1 });
    const r = await run('inspect', dir, '--json');
    expect(r.code).toBe(0);
    expect(lastJson(r.out)).toMatchObject({ model_type: null, tensor_count: 1, parameter_count: 6, total_bytes: 24 });
  });
});
