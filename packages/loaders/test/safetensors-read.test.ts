import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectSafetensors, loadSafetensors, openSafetensors, readSafetensors, readSafetensorsBuffer, SafetensorsError } from '../src/node.js';
import { f32bytes, fixture, rawSafetensors, tempDir } from './helpers.js';

/** Parameter names as Hugging Face's GPT-Neo / Qwen2 state_dicts have them (per the fixture README), built from the configs. */
function gptNeoNames(layers: number): string[] {
  const names = ['transformer.wte.weight', 'transformer.wpe.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias'];
  for (let l = 0; l < layers; l++) {
    const p = `transformer.h.${l}.`;
    names.push(`${p}ln_1.weight`, `${p}ln_1.bias`, `${p}ln_2.weight`, `${p}ln_2.bias`);
    for (const x of ['q', 'k', 'v']) names.push(`${p}attn.attention.${x}_proj.weight`);
    names.push(`${p}attn.attention.out_proj.weight`, `${p}attn.attention.out_proj.bias`);
    names.push(`${p}mlp.c_fc.weight`, `${p}mlp.c_fc.bias`, `${p}mlp.c_proj.weight`, `${p}mlp.c_proj.bias`);
  }
  return names.sort();
}
function qwen2Names(layers: number, untied: boolean): string[] {
  const names = ['model.embed_tokens.weight', 'model.norm.weight', ...(untied ? ['lm_head.weight'] : [])];
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}.`;
    names.push(`${p}input_layernorm.weight`, `${p}post_attention_layernorm.weight`, `${p}self_attn.o_proj.weight`);
    for (const x of ['q', 'k', 'v']) names.push(`${p}self_attn.${x}_proj.weight`, `${p}self_attn.${x}_proj.bias`);
    for (const x of ['gate', 'up', 'down']) names.push(`${p}mlp.${x}_proj.weight`);
  }
  return names.sort();
}

describe('safetensors: fixture checkpoints', () => {
  it('reads the GPT-Neo checkpoint: HF names, shapes from config.json, float32 data', async () => {
    const t = await readSafetensors(fixture('models/gptneo/model.safetensors'));
    expect([...t.keys()].sort()).toEqual(gptNeoNames(4));
    expect(t.get('transformer.wte.weight')!.shape).toEqual([96, 32]);
    expect(t.get('transformer.wpe.weight')!.shape).toEqual([64, 32]);
    expect(t.get('transformer.h.1.mlp.c_fc.weight')!.shape).toEqual([64, 32]);
    for (const r of t.values()) {
      expect(r.dtype).toBe('float32');
      expect(r.data).toBeInstanceOf(Float32Array);
      expect(r.data.length).toBe(r.shape.reduce((a, b) => a * b, 1));
    }
  });

  it('reads F32 values exactly as stored (compared with the raw little-endian bytes of the file)', async () => {
    const path = fixture('models/qwen2-tied/model.safetensors');
    const bytes = await readFile(path);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    const t = await readSafetensors(path);
    for (const name of ['model.embed_tokens.weight', 'model.layers.2.self_attn.v_proj.bias', 'model.norm.weight']) {
      const [b] = header[name].data_offsets;
      const rec = t.get(name)!;
      for (let i = 0; i < rec.data.length; i += 7) expect(rec.data[i]).toBe(bytes.readFloatLE(8 + n + b + 4 * i));
    }
  });

  it('loads a model folder: single file and bf16 sharded index (index names == loaded names)', async () => {
    const tied = await loadSafetensors(fixture('models/qwen2-tied'));
    expect([...tied.keys()].sort()).toEqual(qwen2Names(3, false));
    const dir = fixture('models/qwen2-untied-bf16-sharded');
    const sharded = await loadSafetensors(dir);
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect([...sharded.keys()].sort()).toEqual(Object.keys(index.weight_map).sort());
    expect([...sharded.keys()].sort()).toEqual(qwen2Names(3, true));
    expect(sharded.get('lm_head.weight')!.shape).toEqual([96, 48]);
    expect(sharded.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([16, 48]); // 2 KV heads × 8
    // the same from the index path
    const viaIndex = await loadSafetensors(join(dir, 'model.safetensors.index.json'));
    expect(viaIndex.size).toBe(sharded.size);
  });

  it('reports progress per tensor: bytes grow to the stored total (2 bytes per bf16 element)', async () => {
    const dir = fixture('models/qwen2-untied-bf16-sharded');
    const seen: [number, number][] = [];
    const records = await loadSafetensors(dir, { onProgress: (done, total) => seen.push([done, total]) });
    const elements = [...records.values()].reduce((n, r) => n + r.data.length, 0);
    expect(seen).toHaveLength(records.size);
    expect(seen.every(([, total]) => total === elements * 2)).toBe(true);
    expect(seen.every(([done], i) => i === 0 || done > seen[i - 1][0])).toBe(true);
    expect(seen.at(-1)![0]).toBe(elements * 2);
  });

  it('widens BF16 exactly: each float32 is the stored 16 bits shifted left by 16', async () => {
    const path = fixture('models/qwen2-untied-bf16-sharded/model-00002-of-00002.safetensors');
    const bytes = await readFile(path);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    const rec = (await readSafetensors(path)).get('lm_head.weight')!;
    const bits = new Uint32Array(rec.data.buffer, rec.data.byteOffset, rec.data.length);
    const [b] = header['lm_head.weight'].data_offsets;
    for (let i = 0; i < bits.length; i++) expect(bits[i]).toBe(bytes.readUInt16LE(8 + n + b + 2 * i) * 65536);
  });

  it('decodes F16, I32, I64, U8, BOOL and F64 tensors', async () => {
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00]); // 1, -2, 65504, 2^-24, inf
    const i64 = new BigInt64Array([0n, -1n, 2147483647n, -2147483648n]);
    const parts = [new Uint8Array(f16.buffer), new Uint8Array(new Int32Array([5, -6]).buffer), new Uint8Array(i64.buffer), new Uint8Array([0, 200]), new Uint8Array([0, 3]), new Uint8Array(new Float64Array([0.1]).buffer)];
    const data = Buffer.concat(parts);
    let o = 0;
    const at = (len: number) => [o, (o += len)];
    const header = {
      h: { dtype: 'F16', shape: [5], data_offsets: at(10) },
      i: { dtype: 'I32', shape: [2], data_offsets: at(8) },
      l: { dtype: 'I64', shape: [2, 2], data_offsets: at(32) },
      u: { dtype: 'U8', shape: [2], data_offsets: at(2) },
      b: { dtype: 'BOOL', shape: [2], data_offsets: at(2) },
      d: { dtype: 'F64', shape: [], data_offsets: at(8) },
    };
    const t = await readSafetensorsBuffer(rawSafetensors(header, data));
    expect(Array.from(t.get('h')!.data)).toEqual([1, -2, 65504, 2 ** -24, Infinity]);
    expect(t.get('i')!.data).toEqual(new Int32Array([5, -6]));
    expect(t.get('l')!).toMatchObject({ dtype: 'int32', shape: [2, 2] });
    expect(Array.from(t.get('l')!.data)).toEqual([0, -1, 2147483647, -2147483648]);
    expect(Array.from(t.get('u')!.data)).toEqual([0, 200]);
    expect(Array.from(t.get('b')!.data)).toEqual([0, 1]);
    expect(t.get('d')!).toMatchObject({ dtype: 'float32', shape: [] });
    expect(t.get('d')!.data[0]).toBe(Math.fround(0.1));
  });

  it('I64 values outside int32 are a typed error naming the tensor and the value', async () => {
    const bytes = rawSafetensors({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(new BigInt64Array([1n, 2n ** 31n]).buffer));
    await expect(readSafetensorsBuffer(bytes, { label: 'ids.safetensors' })).rejects.toThrow(
      new SafetensorsError('ids.safetensors', 'tensor "ids": I64 value 2147483648 at index 1 does not fit in int32'),
    );
  });

  it('reads one tensor at a time by offset, and selected names only', async () => {
    const reader = await openSafetensors(fixture('models/gptneo/model.safetensors'));
    try {
      expect(reader.header.tensors).toHaveLength(56);
      expect(reader.header.metadata).toEqual({ format: 'pt' });
      const ln = await reader.read('transformer.ln_f.bias');
      expect(ln.shape).toEqual([32]);
      await expect(reader.read('nope')).rejects.toThrow(/no tensor named "nope"/);
    } finally {
      await reader.close();
    }
    const some = await loadSafetensors(fixture('models/qwen2-untied-bf16-sharded'), { names: ['lm_head.weight', 'model.norm.weight'] });
    expect([...some.keys()].sort()).toEqual(['lm_head.weight', 'model.norm.weight']);
    await expect(loadSafetensors(fixture('models/gptneo'), { names: ['missing.weight'] })).rejects.toThrow(SafetensorsError);
  });

  it('inspects headers only: counts, bytes and dtypes of a sharded model', async () => {
    const s = await inspectSafetensors(fixture('models/qwen2-untied-bf16-sharded'));
    expect(s.files).toHaveLength(2);
    expect(s.tensors).toHaveLength(39);
    expect(s.totalBytes).toBe(125568); // index metadata.total_size
    expect(s.parameterCount).toBe(125568 / 2);
    expect(new Set(s.tensors.map((t) => t.dtype))).toEqual(new Set(['BF16']));
  });

  it('sharded index that disagrees with its shards is an error naming the file', async () => {
    const src = fixture('models/qwen2-untied-bf16-sharded');
    const dir = await tempDir();
    const index = JSON.parse(await readFile(join(src, 'model.safetensors.index.json'), 'utf8'));
    for (const f of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) await writeFile(join(dir, f), await readFile(join(src, f)));
    index.weight_map['lm_head.weight'] = 'model-00001-of-00002.safetensors';
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    await expect(loadSafetensors(dir)).rejects.toThrow(/model\.safetensors\.index\.json: maps tensor "lm_head\.weight" to .*model-00001-of-00002\.safetensors, which does not hold it/);
    index.weight_map['lm_head.weight'] = '../outside.safetensors';
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
    await expect(loadSafetensors(dir)).rejects.toThrow(/points outside the model folder/);
    await expect(loadSafetensors(await tempDir())).rejects.toThrow(/no model\.safetensors or model\.safetensors\.index\.json/);
  });

  it('small hand-made file round-trips values (reader independent of the writer)', async () => {
    const t = await readSafetensorsBuffer(rawSafetensors({ __metadata__: { a: 'b' }, w: { dtype: 'F32', shape: [1, 3], data_offsets: [0, 12] } }, f32bytes([1.5, -0, NaN])));
    expect(Array.from(t.get('w')!.data)).toEqual([1.5, -0, NaN]);
    expect(Object.is(t.get('w')!.data[1], -0)).toBe(true);
  });
});
