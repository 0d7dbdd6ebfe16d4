/**
 * Bad input is rejected at graph-build time: the op call itself throws (synchronously, before anything
 * is evaluated) a TensorError whose message is "<op>: …" and names the shapes involved.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { Tensor } from '../src/index.js';
import * as N from './naive.js';
import * as A from './arbitraries.js';

const RUNS = Number(process.env.FC_RUNS ?? 20);
const SEED = Number(process.env.FC_SEED ?? 0x5eed2026);

/** A regex for a shape written as [2, 3], [2,3] or (2, 3). */
const shapeRe = (s: readonly number[]) => new RegExp(`[\\[(]\\s*${s.join('\\s*,\\s*')}\\s*,?\\s*[\\])]`);

/**
 * `fn` must throw synchronously a TensorError for `op` whose message starts with "<op>:" and mentions
 * each shape (number[]) and each string.
 */
function expectBuildError(fn: () => unknown, op: string, ...mentions: (readonly number[] | string | RegExp)[]): string {
  let err: unknown;
  let result: unknown;
  try {
    result = fn();
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new Error(`expected ${op} to throw at build time, it returned ${String(result)}`);
  expect(err, `${op}: ${String(err)}`).toBeInstanceOf(T.TensorError);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${op}:`), `message "${msg}" should start with "${op}:"`).toBe(true);
  expect((err as InstanceType<typeof T.TensorError>).op).toBe(op);
  for (const m of mentions) {
    if (typeof m === 'string') expect(msg, `message should mention "${m}"`).toContain(m);
    else if (m instanceof RegExp) expect(msg).toMatch(m);
    else expect(msg, `message should name shape [${m.join(', ')}]`).toMatch(shapeRe(m));
  }
  return msg;
}

const z = (...shape: number[]): Tensor => T.zeros(shape);
/** A pending (unevaluated) tensor: errors must come before any evaluation. */
const lazy = (...shape: number[]): Tensor => T.exp(T.zeros(shape));

describe('errors at graph-build time', () => {
  it('binary ops: shapes that do not broadcast', () => {
    for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual'] as const) {
      const fn = T[op] as (a: Tensor, b: Tensor) => Tensor;
      expectBuildError(() => fn(lazy(2, 3), z(4)), op, [2, 3], [4]);
      expectBuildError(() => fn(z(5, 1, 2), lazy(3, 3)), op, [5, 1, 2], [3, 3]);
    }
  });

  it('binary ops: any non-broadcastable pair throws naming both shapes (property)', async () => {
    const incompatible = fc
      .tuple(A.shapeArb({ minRank: 1 }), A.shapeArb({ minRank: 1 }))
      .filter(([a, b]) => {
        try {
          N.broadcastShapes(a, b);
          return false;
        } catch {
          return true;
        }
      });
    await fc.assert(
      fc.property(incompatible, ([a, b]) => {
        expectBuildError(() => T.add(T.zeros(a), T.zeros(b)), 'add', a, b);
        expectBuildError(() => T.where(T.zeros(a, 'bool'), T.zeros(a), T.zeros(b)), 'where', a, b);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('where: condition that does not broadcast', () => {
    expectBuildError(() => T.where(T.zeros([3], 'bool'), z(2, 2), z(2, 2)), 'where', [3], [2, 2]);
  });

  it('matmul: inner dims differ', () => {
    expectBuildError(() => T.matmul(lazy(2, 3), z(4, 5)), 'matmul', [2, 3], [4, 5]);
    expectBuildError(() => T.matmul(z(3), z(4)), 'matmul', [3], [4]);
    expectBuildError(() => T.matmul(z(2, 3), z(2)), 'matmul', [2, 3], [2]);
    expectBuildError(() => T.matmul(z(7, 2, 3), z(7, 4, 3)), 'matmul', [7, 2, 3], [7, 4, 3]);
  });

  it('matmul: batch dims that do not broadcast, and scalars', () => {
    expectBuildError(() => T.matmul(z(2, 2, 3), z(3, 3, 4)), 'matmul', [2, 2, 3], [3, 3, 4]);
    expectBuildError(() => T.matmul(z(), z(3)), 'matmul', [], [3]);
  });

  it('sum / max / argmax / mean / logsumexp: axis out of range or repeated', () => {
    for (const op of ['sum', 'max', 'argmax', 'mean', 'logsumexp'] as const) {
      const fn = T[op] as (x: Tensor, axes?: number | number[], keepdims?: boolean) => Tensor;
      expectBuildError(() => fn(lazy(2, 3), [2]), op, [2, 3], '2');
      expectBuildError(() => fn(z(2, 3), -3), op, [2, 3], '-3');
      expectBuildError(() => fn(z(2, 3), [0, 0]), op, [2, 3]);
      expectBuildError(() => fn(z(2, 3), [1.5]), op, [2, 3]);
      expectBuildError(() => fn(z(), [0]), op, []);
    }
  });

  it('softmax / logSoftmax: bad axis', () => {
    expectBuildError(() => T.softmax(lazy(2, 3), 2), 'softmax', [2, 3], '2');
    expectBuildError(() => T.softmax(z(4), -2), 'softmax', [4], '-2');
    expectBuildError(() => T.logSoftmax(z(2, 3), 5), 'logSoftmax', [2, 3], '5');
  });

  it('concat: bad axis, rank or shape mismatch, no inputs', () => {
    expectBuildError(() => T.concat([z(2, 3), z(2, 3)], 2), 'concat', [2, 3], '2');
    expectBuildError(() => T.concat([z(2, 3), lazy(3, 3)], 1), 'concat', [2, 3], [3, 3]);
    expectBuildError(() => T.concat([z(2, 3), z(2, 3, 1)], 0), 'concat', [2, 3], [2, 3, 1]);
    expectBuildError(() => T.concat([], 0), 'concat');
  });

  it('permute / transpose: wrong length, repeated or out-of-range axes', () => {
    expectBuildError(() => T.permute(lazy(2, 3, 4), [0, 1]), 'permute', [2, 3, 4], [0, 1]);
    expectBuildError(() => T.permute(z(2, 3, 4), [0, 1, 1]), 'permute', [2, 3, 4], [0, 1, 1]);
    expectBuildError(() => T.permute(z(2, 3), [0, 2]), 'permute', [2, 3], [0, 2]);
    expectBuildError(() => T.transpose(z(2, 3), [1, 0, 2]), 'permute', [2, 3]);
  });

  it('reshape: wrong number of elements', () => {
    expectBuildError(() => T.reshape(lazy(2, 3), [4]), 'reshape', [2, 3], [4]);
    expectBuildError(() => T.reshape(z(2, 3), [4, -1]), 'reshape', [2, 3], [4, -1]);
    expectBuildError(() => T.reshape(z(2, 3), [-1, -1]), 'reshape', [-1, -1]);
    expectBuildError(() => T.reshape(z(2, 3), [2, -3]), 'reshape', [2, -3]);
    expectBuildError(() => T.reshape(z(2, 3), [2, 1.5, 2]), 'reshape', [2, 1.5, 2]);
  });

  it('broadcastTo: incompatible target', () => {
    expectBuildError(() => T.broadcastTo(lazy(2, 3), [3, 3]), 'broadcastTo', [2, 3], [3, 3]);
    expectBuildError(() => T.broadcastTo(z(2, 3), [3]), 'broadcastTo', [2, 3], [3]);
  });

  it('slice: zero step, too many dims, non-integers', () => {
    expectBuildError(() => T.slice(lazy(4, 4), [0, 0], [4, 4], [1, 0]), 'slice', [4, 4]);
    expectBuildError(() => T.slice(z(4), [0, 0]), 'slice', [4]);
    expectBuildError(() => T.slice(z(4), [0.5]), 'slice', [4]);
  });

  it('gather: float or bool indices, bad axis', () => {
    expectBuildError(() => T.gather(z(5, 2), T.tensor([0, 1], [2]), 0), 'gather', [2], 'float32');
    expectBuildError(() => T.gather(z(5, 2), T.zeros([3], 'bool'), 0), 'gather', [3], 'bool');
    expectBuildError(() => T.gather(z(5, 2), T.tensor(new Int32Array([0]), [1]), 2), 'gather', [5, 2], '2');
  });

  it('scatterAdd: float indices, updates that do not carry the indices', () => {
    expectBuildError(() => T.scatterAdd(z(3, 2), T.tensor([0, 1, 2], [3]), 0, 4), 'scatterAdd', 'float32');
    expectBuildError(() => T.scatterAdd(z(3, 2), T.tensor(new Int32Array([0, 1]), [2]), 0, 4), 'scatterAdd', [3, 2], [2]);
    expectBuildError(() => T.scatterAdd(z(3, 2), T.tensor(new Int32Array([0, 1, 2]), [3]), 0, -1), 'scatterAdd', '-1');
  });

  it('pad: wrong number of pairs, negative or malformed pads', () => {
    expectBuildError(() => T.pad(lazy(2, 3), [[1, 1]]), 'pad', [2, 3]);
    expectBuildError(() => T.pad(z(2, 3), [[1, 1], [0, 0], [0, 0]]), 'pad', [2, 3]);
    expectBuildError(() => T.pad(z(2, 3), [[1, 1], [-1, 0]]), 'pad', [2, 3]);
    expectBuildError(() => T.pad(z(2, 3), [[1, 1], [0.5, 0]]), 'pad', [2, 3]);
    expectBuildError(() => T.pad(z(2, 3), [[1, 1], [1] as unknown as [number, number]]), 'pad', [2, 3]);
  });

  it('cast: unknown dtype', () => {
    expectBuildError(() => T.cast(lazy(2), 'float64' as never), 'cast', 'float64');
    expectBuildError(() => T.cast(z(2), 'int8' as never), 'cast', 'int8');
  });

  it('tensor / full: values that do not fill the shape, bad dims', () => {
    expectBuildError(() => T.tensor([1, 2, 3], [2, 2]), 'tensor', [2, 2]);
    expectBuildError(() => T.tensor([1, 2], [-2]), 'tensor', [-2]);
    expectBuildError(() => T.zeros([2, 1.5]), 'full', [2, 1.5]);
  });

  it('setBackend: unknown backend name', () => {
    expectBuildError(() => T.setBackend('tpu' as never), 'setBackend', 'tpu');
  });

  it('a build error leaves nothing evaluated and later graphs still work', async () => {
    const x = T.tensor([1, 2, 3], [3]);
    const y = T.exp(x);
    expect(() => T.add(y, z(2))).toThrow(T.TensorError);
    expect(y.realized).toBe(false);
    expect(Array.from(await T.add(y, 1).data()).map((v) => +v.toFixed(4))).toEqual([1, 2, 3].map((v) => +(Math.exp(v) + 1).toFixed(4)));
  });
});
