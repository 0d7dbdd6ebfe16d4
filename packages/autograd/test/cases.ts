/**
 * Shape-and-parameter arbitraries for the GRAD_SPECS rows: each yields the input shapes of one call
 * and the op's non-tensor parameters (axes, slice bounds, pads, …).
 */
import * as fc from 'fast-check';
import { broadcastShapes, type Shape } from '@llm-modules/tensor';
import { arbBroadcastableShapes, arbShape } from '../src/testing.js';

export interface Case<P> {
  shapes: Shape[];
  p: P;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const noParams = <S extends Shape[]>(shapes: S): Case<Record<string, never>> => ({ shapes, p: {} });

/** `n` inputs of one random shape (elementwise ops without broadcasting). */
export const sameShapes = (n = 1, maxRank = 3): fc.Arbitrary<Case<Record<string, never>>> =>
  arbShape({ maxRank }).map((s) => noParams(Array.from({ length: n }, () => s)));

/** `n` broadcast-compatible shapes (binary/ternary elementwise ops). */
export const broadcastable = (n = 2): fc.Arbitrary<Case<Record<string, never>>> => arbBroadcastableShapes({ count: n }).map((s) => noParams(s));

/** One shape (rank ≥ 1) and a subset of its axes (undefined = all), with keepdims. */
export const reduction = (): fc.Arbitrary<Case<{ axes: number[] | undefined; keepdims: boolean }>> =>
  arbShape({ minRank: 1 }).chain((s) =>
    fc.record({ axes: fc.option(fc.subarray(range(s.length), { minLength: 1 }), { nil: undefined }), keepdims: fc.boolean(), negative: fc.boolean() }).map(({ axes, keepdims, negative }) => ({
      shapes: [s],
      p: { axes: axes && negative ? axes.map((a) => a - s.length) : axes, keepdims },
    })),
  );

/** One shape (rank ≥ 1) and one of its axes. */
export const oneAxis = (): fc.Arbitrary<Case<{ axis: number }>> =>
  arbShape({ minRank: 1 }).chain((s) => fc.integer({ min: -s.length, max: s.length - 1 }).map((axis) => ({ shapes: [s], p: { axis } })));

/** A shape and another with the same size (adjacent dims merged or split, 1s inserted); optionally reshape a transposed view. */
export const reshapes = (): fc.Arbitrary<Case<{ target: number[]; transposeFirst: boolean }>> =>
  arbShape().chain((s) =>
    fc.record({
      cuts: fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }),
      ones: fc.array(fc.integer({ min: 0, max: s.length }), { maxLength: 2 }),
      transposeFirst: fc.boolean(),
    }).map(({ cuts, ones, transposeFirst }) => {
      const src = transposeFirst ? s.slice().reverse() : s;
      const groups: number[] = [];
      src.forEach((d, k) => (k > 0 && !cuts[k] ? (groups[groups.length - 1] *= d) : groups.push(d)));
      for (const at of ones) groups.splice(Math.min(at, groups.length), 0, 1);
      return { shapes: [s], p: { target: groups, transposeFirst } };
    }),
  );

/** A shape (rank 2–4) and a permutation of its axes other than the identity. */
export const permutations = (): fc.Arbitrary<Case<{ axes: number[] }>> =>
  arbShape({ minRank: 2, maxRank: 4 }).chain((s) =>
    fc.shuffledSubarray(range(s.length), { minLength: s.length, maxLength: s.length }).map((axes) => ({
      shapes: [s],
      p: { axes: axes.every((a, k) => a === k) ? axes.reverse() : axes },
    })),
  );

/** A shape and a bigger shape it broadcasts to (a new leading dim when the pair adds nothing). */
export const broadcastTargets = (): fc.Arbitrary<Case<{ target: number[] }>> =>
  arbBroadcastableShapes({ count: 2 }).map(([a, b]) => {
    const target = broadcastShapes('test', a, b);
    return { shapes: [a], p: { target: target.length === a.length && target.every((d, k) => d === a[k]) ? [2, ...a] : target } };
  });

const bound = (d: number) => fc.option(fc.integer({ min: -d - 2, max: d + 2 }), { nil: undefined });

/** A shape and Python-style slice bounds per dim: starts/stops may be negative or missing, steps in ±1..3. */
export const slices = (): fc.Arbitrary<Case<{ starts: (number | undefined)[]; stops: (number | undefined)[]; steps: number[] }>> =>
  arbShape({ minRank: 1, maxDim: 6 }).chain((s) =>
    fc
      .tuple(...s.map((d) => fc.tuple(bound(d), bound(d), fc.constantFrom(1, 2, 3, -1, -2, -3))))
      .map((dims) => ({ shapes: [s], p: { starts: dims.map((x) => x[0]), stops: dims.map((x) => x[1]), steps: dims.map((x) => x[2]) } })),
  );

/** A shape, [before, after] pads per dim and a pad value. */
export const pads = (): fc.Arbitrary<Case<{ pads: [number, number][]; value: number }>> =>
  arbShape().chain((s) =>
    fc.record({
      pads: fc.tuple(...s.map(() => fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })))),
      value: fc.constantFrom(0, 1.5, -2),
    }).map(({ pads, value }) => ({ shapes: [s], p: { pads: pads as [number, number][], value } })),
  );

/** Three shapes equal except along one axis. */
export const concats = (): fc.Arbitrary<Case<{ axis: number }>> =>
  arbShape({ minRank: 1 }).chain((s) =>
    fc.record({ axis: fc.integer({ min: 0, max: s.length - 1 }), sizes: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })) }).map(({ axis, sizes }) => ({
      shapes: sizes.map((n) => s.map((d, k) => (k === axis ? n : d))),
      p: { axis },
    })),
  );

/** x [..], an axis, and an index tensor shape (rank 0–2): the gather output is x.shape[:axis] + idx + x.shape[axis+1:]. */
export const gathers = (): fc.Arbitrary<Case<{ axis: number; bound: number }>> =>
  arbShape({ minRank: 1 }).chain((s) =>
    fc.record({ axis: fc.integer({ min: 0, max: s.length - 1 }), idx: arbShape({ maxRank: 2, maxDim: 3 }) }).map(({ axis, idx }) => ({ shapes: [s, idx], p: { axis, bound: s[axis] } })),
  );

/** updates [pre, idx…, post], indices [idx…] into an axis of size dimSize (repeats accumulate). */
export const scatters = (): fc.Arbitrary<Case<{ axis: number; dimSize: number; bound: number }>> =>
  fc
    .record({ pre: arbShape({ maxRank: 1, maxDim: 3 }), idx: arbShape({ maxRank: 2, maxDim: 3 }), post: arbShape({ maxRank: 1, maxDim: 3 }), dimSize: fc.integer({ min: 1, max: 4 }) })
    .map(({ pre, idx, post, dimSize }) => ({ shapes: [[...pre, ...idx, ...post], idx], p: { axis: pre.length, dimSize, bound: dimSize } }));

/** matmul operands with broadcast batch dims; either may be a vector (NumPy 1-D rules). */
export const matmuls = (): fc.Arbitrary<Case<Record<string, never>>> =>
  fc
    .record({
      batch: arbBroadcastableShapes({ count: 2, maxRank: 2, maxDim: 3 }),
      m: fc.integer({ min: 1, max: 4 }),
      k: fc.integer({ min: 1, max: 4 }),
      n: fc.integer({ min: 1, max: 4 }),
      vec: fc.constantFrom('none', 'none', 'a', 'b'),
    })
    .map(({ batch: [ba, bb], m, k, n, vec }) => noParams([vec === 'a' ? [k] : [...ba, m, k], vec === 'b' ? [k] : [...bb, k, n]]));

/** x [.., D] and two [D] parameter vectors (norms). */
export const normShapes = (params = 2): fc.Arbitrary<Case<Record<string, never>>> =>
  arbShape({ minRank: 1, maxDim: 5 }).map((s) => noParams([s, ...Array.from({ length: params }, () => [s[s.length - 1]])]));

/** logits [N…, C] and labels [N…] (some ignored). */
export const classification = (): fc.Arbitrary<Case<{ bound: number }>> =>
  fc.record({ lead: arbShape({ minRank: 1, maxRank: 2 }), c: fc.integer({ min: 1, max: 5 }) }).map(({ lead, c }) => ({ shapes: [[...lead, c], lead], p: { bound: c } }));

/** q [B, H, T, D], k and v [B, H, S, D] (S = T when causal), and with `masked` a key mask [B, S]. */
export const attentions = (causal: boolean, masked: boolean): fc.Arbitrary<Case<Record<string, never>>> =>
  fc
    .record({ b: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 2 }), t: fc.integer({ min: 1, max: 4 }), extra: fc.integer({ min: 0, max: 2 }), d: fc.integer({ min: 1, max: 3 }) })
    .map(({ b, h, t, extra, d }) => {
      const s = causal ? t : t + extra;
      const qkv = [[b, h, t, d], [b, h, s, d], [b, h, s, d]];
      return noParams(masked ? [...qkv, [b, s]] : qkv);
    });

/** An embedding table [V, D] and ids [B, T]. */
export const embeddings = (): fc.Arbitrary<Case<{ bound: number }>> =>
  fc.record({ v: fc.integer({ min: 1, max: 6 }), d: fc.integer({ min: 1, max: 4 }), ids: arbShape({ minRank: 1, maxRank: 2 }) }).map(({ v, d, ids }) => ({ shapes: [[v, d], ids], p: { bound: v } }));

/** MLP: x [B, I], w1 [I, H], b1 [H], w2 [H, O]. */
export const mlps = (): fc.Arbitrary<Case<Record<string, never>>> =>
  fc.tuple(...[1, 2, 3, 4].map(() => fc.integer({ min: 1, max: 4 }))).map(([b, i, h, o]) => noParams([[b, i], [i, h], [h], [h, o]]));
