import { isTensor, type Tensor } from '@llm-modules/tensor';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, loadSafetensors, loadSafetensorsAsTensors, saveCheckpoint, toTensor } from '../src/node.js';
import { fixture, tempDir } from './helpers.js';

const bits = (a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; length: number }) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('Tensor wrappers (@llm-modules/tensor)', () => {
  it('loadSafetensorsAsTensors gives Tensors whose data() equals the records bit for bit (F32 and sharded BF16)', async () => {
    for (const m of ['gptneo', 'qwen2-untied-bf16-sharded']) {
      const records = await loadSafetensors(fixture('models', m));
      const tensors = await loadSafetensorsAsTensors(fixture('models', m));
      expect(Object.keys(tensors).sort()).toEqual([...records.keys()].sort());
      for (const [name, r] of records) {
        const t = tensors[name];
        expect(isTensor(t)).toBe(true);
        expect([...t.shape]).toEqual(r.shape);
        expect(t.dtype).toBe('float32');
        const data = (await t.data()) as Float32Array;
        expect(data).toBeInstanceOf(Float32Array);
        expect(bits(data)).toEqual(bits(r.data));
      }
    }
  });

  it('toTensor keeps int32 records int32', async () => {
    const t = toTensor({ dtype: 'int32', shape: [3], data: new Int32Array([0, 151645, -7]) });
    expect(t.dtype).toBe('int32');
    expect(Array.from((await t.data()) as Int32Array)).toEqual([0, 151645, -7]);
  });

  it('saveCheckpoint / loadCheckpoint round-trip a params tree of Tensors bit-exactly', async () => {
    const params = await loadSafetensorsAsTensors(fixture('models/qwen2-tied'));
    const tree = { model: { norm: params['model.norm.weight'] }, head: [params['model.embed_tokens.weight']] };
    const dir = await tempDir();
    await saveCheckpoint(dir, { params: tree, optimizerState: { m: toTensor({ dtype: 'float32', shape: [2], data: new Float32Array([NaN, -0]) }) }, step: 5 });
    const back = await loadCheckpoint<{ model: { norm: Tensor }; head: Tensor[] }, { m: Tensor }>(dir);
    expect(back.step).toBe(5);
    expect(isTensor(back.params.model.norm)).toBe(true);
    expect([...back.params.head[0].shape]).toEqual([96, 48]);
    expect(bits((await back.params.model.norm.data()) as Float32Array)).toEqual(bits((await tree.model.norm.data()) as Float32Array));
    expect(bits((await back.params.head[0].data()) as Float32Array)).toEqual(bits((await tree.head[0].data()) as Float32Array));
    expect(bits((await back.optimizerState!.m.data()) as Float32Array)).toEqual(bits(new Float32Array([NaN, -0])));
  });
});
