import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors, SafetensorsError, type ReadableTensor } from '../src/node.js';
import { fixture, tempDir } from './helpers.js';

describe('safetensors writer', () => {
  it('rewrites the F32 fixtures byte for byte as the Rust library wrote them', async () => {
    for (const m of ['gptneo', 'qwen2-tied']) {
      const src = fixture(`models/${m}/model.safetensors`);
      const out = join(await tempDir(), 'model.safetensors');
      await writeSafetensors(out, await readSafetensors(src), { metadata: { format: 'pt' } });
      expect(Buffer.compare(await readFile(out), await readFile(src))).toBe(0);
    }
  });

  it('rewrites the BF16 shards byte for byte (bf16 → f32 → bf16 is exact)', async () => {
    for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const src = fixture('models/qwen2-untied-bf16-sharded', shard);
      const out = join(await tempDir(), shard);
      await writeSafetensors(out, await readSafetensors(src), { dtype: 'BF16' });
      expect(Buffer.compare(await readFile(out), await readFile(src))).toBe(0);
    }
  });

  it('writes F16 / BF16 with round-to-nearest-even and I32 for int data, orders tensors as Rust does', async () => {
    const path = join(await tempDir(), 'mixed.safetensors');
    // ties round to even: f16 1+2^-11 → 1, bf16 1+2^-8 → 1; 65520 is a tie that rounds up: f16 overflows to inf, bf16 gives 65536
    const vals = new Float32Array([1, 1 + 2 ** -11, 65520, -0]);
    await writeSafetensors(path, { z: { dtype: 'float32', shape: [4], data: vals }, a: { dtype: 'int32', shape: [2], data: new Int32Array([-3, 7]) } }, { dtype: (n) => (n === 'z' ? 'F16' : 'BF16'), metadata: { run: 'x' } });
    const bytes = await readFile(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const headerText = bytes.subarray(8, 8 + n).toString('utf8');
    expect(headerText).toBe('{"__metadata__":{"format":"pt","run":"x"},"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F16","shape":[4],"data_offsets":[8,16]}}'.padEnd(n, ' '));
    const back = await readSafetensors(path);
    expect(Array.from(back.get('z')!.data)).toEqual([1, 1, Infinity, -0]);
    expect(back.get('a')!.data).toEqual(new Int32Array([-3, 7]));
    await writeSafetensors(path, { z: { dtype: 'float32', shape: [4], data: new Float32Array([1, 1 + 2 ** -8, 65520, -0]) } }, { dtype: 'BF16' });
    expect(Array.from((await readSafetensors(path)).get('z')!.data)).toEqual([1, 1, 65536, -0]);
  });

  it('orders mixed dtypes as the Rust library: dtype descending in its enum (F16 < BF16 < I32 < F32), then name', async () => {
    const path = join(await tempDir(), 'order.safetensors');
    const one = (dtype: 'float32' | 'int32') => ({ dtype, shape: [1], data: dtype === 'int32' ? new Int32Array(1) : new Float32Array(1) });
    await writeSafetensors(path, { a: one('float32'), b: one('float32'), c: one('int32'), d: one('float32'), e: one('float32') }, {
      dtype: (n) => (({ a: 'F16', b: 'BF16', e: 'BF16' }) as Record<string, 'F16' | 'BF16'>)[n] ?? 'F32',
    });
    const bytes = await readFile(path);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
    expect(Object.keys(header)).toEqual(['__metadata__', 'd', 'c', 'b', 'e', 'a']);
    expect(header.b.data_offsets).toEqual([8, 10]);
  });

  it('takes Tensors (anything with shape, dtype and async data())', async () => {
    const path = join(await tempDir(), 't.safetensors');
    const t: ReadableTensor = { shape: [2, 1], dtype: 'float32', data: async () => new Float32Array([0.5, 2]) };
    await writeSafetensors(path, new Map([['w', t]]));
    expect((await readSafetensors(path)).get('w')).toEqual({ name: 'w', dtype: 'float32', shape: [2, 1], data: new Float32Array([0.5, 2]) });
  });

  it('is atomic: a failure mid-write leaves the previous file intact and no temp file behind', async () => {
    const dir = await tempDir();
    const path = join(dir, 'w.safetensors');
    await writeSafetensors(path, { w: { dtype: 'float32', shape: [1], data: new Float32Array([42]) } });
    const before = await readFile(path);
    const failing: ReadableTensor = { shape: [1], dtype: 'float32', data: async () => Promise.reject(new Error('device lost')) };
    await expect(writeSafetensors(path, { a: { dtype: 'float32', shape: [1], data: new Float32Array([1]) }, b: failing })).rejects.toThrow(new SafetensorsError(path, `"b": getting the tensor's data failed (device lost)`));
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect(await readdir(dir)).toEqual(['w.safetensors']);
  });

  it('rejects bad input with a SafetensorsError naming the file', async () => {
    const path = join(await tempDir(), 'bad.safetensors');
    await expect(writeSafetensors(path, { w: { dtype: 'float32', shape: [3], data: new Float32Array(2) } })).rejects.toThrow(
      new SafetensorsError(path, '"w": shape [3] has 3 elements but the data has 2'),
    );
    await expect(writeSafetensors(path, { __metadata__: { dtype: 'float32', shape: [1], data: new Float32Array(1) } })).rejects.toThrow(/invalid tensor name/);
    await expect(writeSafetensors(join(path, 'nested', 'x.safetensors'), {})).rejects.toThrow(/cannot write/);
  });
});
