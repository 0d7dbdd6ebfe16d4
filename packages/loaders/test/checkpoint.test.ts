import fc from 'fast-check';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_FILE, CheckpointError, readCheckpoint, readSafetensors, saveCheckpoint, type ReadableTensor, type TensorRecord } from '../src/node.js';
import { fixture, tempDir } from './helpers.js';

/** A Tensor stand-in: what saveCheckpoint reads from a Tensor is `shape`, `dtype` and `await data()`. */
const fakeTensor = (data: Float32Array | Int32Array, shape: number[]): ReadableTensor => ({ shape, dtype: data instanceof Float32Array ? 'float32' : 'int32', data: async () => data });

const bits = (a: Float32Array | Int32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('checkpoints', () => {
  it('round-trips params, optimizer state, step, config and rng bit-exactly', async () => {
    const dir = await tempDir();
    const special = new Float32Array([NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38, Math.fround(0.1)]);
    const params = {
      model: { embed: { weight: fakeTensor(special, [7]) }, layers: [{ w: fakeTensor(new Float32Array([1, 2, 3, 4]), [2, 2]) }] },
      'lm_head.weight': { dtype: 'float32', shape: [1, 2], data: new Float32Array([5, 6]) },
      ids: fakeTensor(new Int32Array([-1, 2 ** 31 - 1]), [2]),
    };
    const optimizerState = { step: 3, m: { w: fakeTensor(new Float32Array([0.25, -0.5, 1e-8, 7]), [2, 2]) }, lr: 1e-3, betas: [0.9, 0.999] };
    const rng = { key: new Uint32Array([0xdeadbeef, 42]), counter: 2n ** 63n, draws: new Float64Array([0.1, -0]) };
    const config = { model_type: 'qwen2', nested: { list: [1, 'a', null, true] }, unicode: '日本語' };
    await saveCheckpoint(dir, { params, optimizerState, step: 1234, config, rng });

    const back = await readCheckpoint<any, any>(dir);
    expect(back.step).toBe(1234);
    expect(back.config).toEqual(config);
    const rngBack = back.rng as typeof rng;
    expect(rngBack.key).toEqual(rng.key);
    expect(rngBack.counter).toBe(rng.counter);
    expect(Array.from(rngBack.draws)).toEqual([0.1, -0]);
    expect(Object.is(rngBack.draws[1], -0)).toBe(true);
    const w: TensorRecord = back.params.model.embed.weight;
    expect(w.shape).toEqual([7]);
    expect(bits(w.data)).toEqual(bits(special)); // NaN, -0 and subnormals bit for bit
    expect(back.params.model.layers[0].w.data).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(back.params['lm_head.weight'].shape).toEqual([1, 2]);
    expect(back.params.ids).toMatchObject({ dtype: 'int32', data: new Int32Array([-1, 2 ** 31 - 1]) });
    expect(back.optimizerState.m.w.data).toEqual(new Float32Array([0.25, -0.5, 1e-8, 7]));
    expect(back.optimizerState).toMatchObject({ step: 3, lr: 1e-3, betas: [0.9, 0.999] });
    // the params file is a plain safetensors file keyed by dotted names
    const files = await readdir(dir);
    const paramsFile = files.find((f) => f.startsWith('params-'))!;
    expect([...(await readSafetensors(join(dir, paramsFile))).keys()].sort()).toEqual(['ids', 'lm_head.weight', 'model.embed.weight', 'model.layers.0.w']);
  });

  it('round-trips the real fixture weights bit-exactly (property over random subsets)', async () => {
    const weights = await readSafetensors(fixture('models/qwen2-tied/model.safetensors'));
    const names = [...weights.keys()];
    await fc.assert(
      fc.asyncProperty(fc.subarray(names, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 1e6 }), async (pick, step) => {
        const dir = await tempDir();
        const params = Object.fromEntries(pick.map((n) => [n, weights.get(n)!]));
        await saveCheckpoint(dir, { params, step });
        const back = await readCheckpoint<Record<string, TensorRecord>>(dir);
        expect(back.step).toBe(step);
        for (const n of pick) expect(bits(back.params[n].data)).toEqual(bits(weights.get(n)!.data));
      }),
      { seed: 99, numRuns: 15 },
    );
  });

  it('a crash mid-save never corrupts the previous checkpoint (and leaves no stray files)', async () => {
    const dir = await tempDir();
    await saveCheckpoint(dir, { params: { w: fakeTensor(new Float32Array([1, 2]), [2]) }, step: 1 });
    const before = (await readdir(dir)).sort();
    const manifest = await readFile(join(dir, CHECKPOINT_FILE));
    // the second save dies while writing the optimizer tensors, after the new params file was written
    const dying: ReadableTensor = { shape: [2], dtype: 'float32', data: () => Promise.reject(new Error('out of memory')) };
    await expect(saveCheckpoint(dir, { params: { w: fakeTensor(new Float32Array([9, 9]), [2]) }, optimizerState: { m: dying }, step: 2 })).rejects.toThrow(
      /save failed, previous checkpoint kept: .*optimizer-.*\.safetensors: "m": getting the tensor's data failed \(out of memory\)/,
    );
    expect((await readdir(dir)).sort()).toEqual(before);
    expect(Buffer.compare(await readFile(join(dir, CHECKPOINT_FILE)), manifest)).toBe(0);
    const back = await readCheckpoint<any>(dir);
    expect(back.step).toBe(1);
    expect(back.params.w.data).toEqual(new Float32Array([1, 2]));
    // a later good save replaces it and removes the old weights
    await saveCheckpoint(dir, { params: { w: fakeTensor(new Float32Array([3, 4]), [2]) }, step: 3 });
    expect((await readdir(dir)).filter((f) => f.endsWith('.safetensors'))).toHaveLength(1);
    expect((await readCheckpoint<any>(dir)).params.w.data).toEqual(new Float32Array([3, 4]));
  });

  it('errors name the folder or file: missing checkpoint, corrupt manifest, name clash', async () => {
    const dir = await tempDir();
    await expect(readCheckpoint(dir)).rejects.toThrow(new CheckpointError(join(dir, CHECKPOINT_FILE), 'cannot read: no such file or folder'));
    await writeFile(join(dir, CHECKPOINT_FILE), Buffer.from([0xc1]));
    await expect(readCheckpoint(dir)).rejects.toThrow(/checkpoint\.msgpack: not valid msgpack/);
    const t = fakeTensor(new Float32Array([1]), [1]);
    await expect(saveCheckpoint(dir, { params: { 'a.b': t, a: { b: t } } })).rejects.toThrow(/two tensors of the tree have the same name "a\.b"/);
    await expect(saveCheckpoint(dir, {} as never)).rejects.toThrow(CheckpointError);
  });
});
