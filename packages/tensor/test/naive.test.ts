/** Sanity tests of the naive float64 oracle itself, against small hand-computed cases. */
import { describe, expect, it } from 'vitest';
import * as N from './naive.js';

const arr = (x: N.NDArray) => Array.from(x.data);
const near = (got: number, want: number, tol = 1e-14) => expect(Math.abs(got - want)).toBeLessThanOrEqual(tol * (1 + Math.abs(want)));

describe('naive: basics', () => {
  it('forEachIndex visits C order, rank 0 once, size 0 never', () => {
    const seen: string[] = [];
    N.forEachIndex([2, 3], (i) => seen.push(i.join(',')));
    expect(seen).toEqual(['0,0', '0,1', '0,2', '1,0', '1,1', '1,2']);
    let n = 0;
    N.forEachIndex([], () => n++);
    expect(n).toBe(1);
    N.forEachIndex([3, 0, 2], () => n++);
    expect(n).toBe(1);
  });
  it('toNested', () => {
    expect(N.toNested(N.nd([1, 2, 3, 4, 5, 6], [2, 3]))).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(N.toNested(N.scalar(7))).toBe(7);
    expect(N.toNested(N.nd([], [2, 0]))).toEqual([[], []]);
  });
});

describe('naive: unary', () => {
  it('erf matches known values to ~1e-15', () => {
    // values from Python math.erf (correctly rounded libm) / tables
    const cases: [number, number][] = [
      [0, 0],
      [1e-8, 1.1283791670955126e-8],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [2.999, 0.9999777698314002],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [4, 0.9999999845827421],
      [6, 1],
      [30, 1],
    ];
    for (const [x, y] of cases) {
      near(N.erf(x), y, 2e-15);
      near(N.erf(-x), -y, 2e-15);
    }
    expect(Object.is(N.erf(-0), -0)).toBe(true);
    expect(N.erf(Infinity)).toBe(1);
    expect(N.erf(-Infinity)).toBe(-1);
    expect(N.erf(NaN)).toBeNaN();
  });
  it('erfc tail', () => {
    near(N.erfc(3), 2.209049699858544e-5, 1e-13);
    near(N.erfc(5), 1.5374597944280349e-12, 1e-13);
    near(N.erfc(10), 2.088487583762545e-45, 1e-13);
  });
  it('other unary ops', () => {
    const x = N.nd([-2, -0.5, 0, 1, 4], [5]);
    expect(arr(N.unary('neg', x))).toEqual([2, 0.5, -0, -1, -4]);
    expect(arr(N.unary('abs', x))).toEqual([2, 0.5, 0, 1, 4]);
    expect(arr(N.unary('reciprocal', N.nd([2, -4, 0.5], [3])))).toEqual([0.5, -0.25, 2]);
    expect(arr(N.unary('sqrt', N.nd([4, 9, 0.25], [3])))).toEqual([2, 3, 0.5]);
    expect(arr(N.unary('rsqrt', N.nd([4, 0.25], [2])))).toEqual([0.5, 2]);
    near(N.unary('sigmoid', N.scalar(0)).data[0], 0.5);
    near(N.unary('sigmoid', N.scalar(2)).data[0], 1 / (1 + Math.exp(-2)));
    near(N.unary('sigmoid', N.scalar(-2)).data[0], 1 / (1 + Math.exp(2)));
    near(N.unary('sigmoid', N.scalar(-800)).data[0], 0);
    expect(N.unary('sigmoid', N.scalar(800)).data[0]).toBe(1);
    near(N.unary('tanh', N.scalar(0.5)).data[0], 0.46211715726000974);
    near(N.unary('log', N.scalar(Math.E)).data[0], 1);
  });
});

describe('naive: broadcasting and binary', () => {
  it('broadcastShapes', () => {
    expect(N.broadcastShapes([2, 1, 3], [4, 1])).toEqual([2, 4, 3]);
    expect(N.broadcastShapes([], [3])).toEqual([3]);
    expect(N.broadcastShapes([0, 1], [1, 5])).toEqual([0, 5]);
    expect(N.broadcastShapes([1], [0])).toEqual([0]);
    expect(() => N.broadcastShapes([2], [3])).toThrow();
    expect(() => N.broadcastShapes([2, 0], [2])).toThrow();
  });
  it('add with broadcast [2,1] + [3]', () => {
    const r = N.binary('add', N.nd([10, 20], [2, 1]), N.nd([1, 2, 3], [3]));
    expect(r.shape).toEqual([2, 3]);
    expect(arr(r)).toEqual([11, 12, 13, 21, 22, 23]);
  });
  it('sub/div/pow/max/min and comparisons', () => {
    const a = N.nd([1, 4, -3], [3]);
    const b = N.nd([2], [1]);
    expect(arr(N.binary('sub', a, b))).toEqual([-1, 2, -5]);
    expect(arr(N.binary('div', a, b))).toEqual([0.5, 2, -1.5]);
    expect(arr(N.binary('pow', a, b))).toEqual([1, 16, 9]);
    expect(arr(N.binary('maximum', a, b))).toEqual([2, 4, 2]);
    expect(arr(N.binary('minimum', a, b))).toEqual([1, 2, -3]);
    const c = N.nd([1, 2, 3], [3]);
    const d = N.nd([2, 2, 2], [3]);
    expect(arr(N.binary('equal', c, d))).toEqual([0, 1, 0]);
    expect(arr(N.binary('notEqual', c, d))).toEqual([1, 0, 1]);
    expect(arr(N.binary('less', c, d))).toEqual([1, 0, 0]);
    expect(arr(N.binary('lessEqual', c, d))).toEqual([1, 1, 0]);
    expect(arr(N.binary('greater', c, d))).toEqual([0, 0, 1]);
    expect(arr(N.binary('greaterEqual', c, d))).toEqual([0, 1, 1]);
  });
  it('where broadcasts all three', () => {
    const r = N.where(N.nd([1, 0], [2, 1]), N.nd([1, 2, 3], [3]), N.scalar(-1));
    expect(r.shape).toEqual([2, 3]);
    expect(arr(r)).toEqual([1, 2, 3, -1, -1, -1]);
  });
  it('cast', () => {
    const x = N.nd([-1.7, -0.2, 0, 0.5, 2.9], [5]);
    expect(arr(N.cast(x, 'int32'))).toEqual([-1, 0, 0, 0, 2]);
    expect(Object.is(N.cast(x, 'int32').data[1], 0)).toBe(true);
    expect(arr(N.cast(x, 'bool'))).toEqual([1, 1, 0, 1, 1]);
  });
  it('broadcastTo', () => {
    const r = N.broadcastTo(N.nd([1, 2], [2, 1]), [3, 2, 2]);
    expect(arr(r)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2]);
    expect(() => N.broadcastTo(N.nd([1, 2], [2]), [3])).toThrow();
  });
});

describe('naive: reductions', () => {
  const x = N.nd([1, 5, 2, 7, 0, 7], [2, 3]); // [[1,5,2],[7,0,7]]
  it('sum over axes with keepdims', () => {
    expect(arr(N.sum(x))).toEqual([22]);
    expect(N.sum(x).shape).toEqual([]);
    expect(arr(N.sum(x, [0]))).toEqual([8, 5, 9]);
    expect(arr(N.sum(x, [1], true))).toEqual([8, 14]);
    expect(N.sum(x, [1], true).shape).toEqual([2, 1]);
    expect(N.sum(x, [0, 1], true).shape).toEqual([1, 1]);
    expect(arr(N.sum(x, [-1]))).toEqual([8, 14]);
    expect(arr(N.sum(x, []))).toEqual(arr(x));
    expect(arr(N.sum(N.nd([], [2, 0]), [1]))).toEqual([0, 0]);
  });
  it('max and argmax (first occurrence, C order over reduced axes)', () => {
    expect(arr(N.max(x, [1]))).toEqual([5, 7]);
    expect(arr(N.argmax(x, [1]))).toEqual([1, 0]);
    expect(arr(N.argmax(x))).toEqual([3]);
    expect(arr(N.argmax(x, [0]))).toEqual([1, 0, 1]);
    const y = N.nd([0, 9, 9, 0, 3, 9, 1, 1], [2, 2, 2]); // reduce axes 0,2: per j
    // j=0: x[0,0,:]=[0,9], x[1,0,:]=[3,9] → order (i,k): 0,9,3,9 → first max at 1
    // j=1: x[0,1,:]=[9,0], x[1,1,:]=[1,1] → 9,0,1,1 → 0
    expect(arr(N.argmax(y, [0, 2]))).toEqual([1, 0]);
    expect(N.argmax(y, [0, 2], true).shape).toEqual([1, 2, 1]);
  });
  it('mean, logsumexp, softmax', () => {
    expect(arr(N.mean(x, [1]))).toEqual([8 / 3, 14 / 3]);
    near(N.logsumexp(N.nd([0, 0], [2])).data[0], Math.log(2));
    near(N.logsumexp(N.nd([1000, 1000], [2])).data[0], 1000 + Math.log(2));
    const s = N.softmax(N.nd([1, 2, 3, 1e4, -1e4, 1e4], [2, 3]));
    const e = [Math.exp(-2), Math.exp(-1), 1];
    const z = e[0] + e[1] + e[2];
    expect(arr(s).slice(0, 3).map((v, i) => Math.abs(v - e[i] / z) < 1e-15)).toEqual([true, true, true]);
    expect(arr(s).slice(3)).toEqual([0.5, 0, 0.5]);
    const ls = N.logSoftmax(N.nd([1, 2, 3], [3]));
    near(ls.data[2], -Math.log(z), 1e-15);
    const col = N.softmax(N.nd([0, 0, Math.log(3), 0], [2, 2]), 0);
    expect(arr(col).map((v) => +v.toFixed(12))).toEqual([0.25, 0.5, 0.75, 0.5]);
  });
  it('fsum is compensated', () => {
    expect(N.fsum([1e16, 1, -1e16])).toBe(1);
  });
});

describe('naive: movement', () => {
  const x = N.nd([0, 1, 2, 3, 4, 5], [2, 3]);
  it('reshape', () => {
    expect(N.reshape(x, [3, 2]).shape).toEqual([3, 2]);
    expect(N.reshape(x, [-1]).shape).toEqual([6]);
    expect(() => N.reshape(x, [4])).toThrow();
  });
  it('permute', () => {
    expect(arr(N.permute(x, [1, 0]))).toEqual([0, 3, 1, 4, 2, 5]);
    const y = N.fill([2, 3, 4], ([i, j, k]) => 100 * i + 10 * j + k);
    const p = N.permute(y, [2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    expect(N.get(p, [3, 1, 2])).toBe(123);
    expect(arr(N.permute(N.permute(y, [2, 0, 1]), N.invertPermutation([2, 0, 1])))).toEqual(arr(y));
  });
  it('slice with python semantics', () => {
    const v = N.nd([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10]);
    const s = (a?: number, b?: number, c?: number) => arr(N.slice(v, [a], [b], [c]));
    expect(s(2, 5)).toEqual([2, 3, 4]);
    expect(s(undefined, undefined, 3)).toEqual([0, 3, 6, 9]);
    expect(s(-3)).toEqual([7, 8, 9]);
    expect(s(undefined, -8)).toEqual([0, 1]);
    expect(s(undefined, undefined, -1)).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(s(8, 2, -2)).toEqual([8, 6, 4]);
    expect(s(100, -100, -3)).toEqual([9, 6, 3, 0]);
    expect(s(-100, 100)).toEqual(arr(v));
    expect(s(5, 5)).toEqual([]);
    expect(s(5, 2)).toEqual([]);
    expect(s(2, 5, -1)).toEqual([]);
    expect(s(3, -1, -1)).toEqual([]); // stop -1 means index 9, not "before 0"
    expect(s(3, -11, -1)).toEqual([3, 2, 1, 0]);
    const m = N.slice(x, [1, undefined], [undefined, undefined], [1, -2]);
    expect(m.shape).toEqual([1, 2]);
    expect(arr(m)).toEqual([5, 3]);
    expect(N.slice(N.nd([], [0]), [undefined], [undefined], [-1]).shape).toEqual([0]);
    expect(N.slice(x, [1]).shape).toEqual([1, 3]); // trailing dims whole
  });
  it('pad', () => {
    const p = N.pad(N.nd([1, 2], [1, 2]), [[1, 0], [0, 2]], 9);
    expect(p.shape).toEqual([2, 4]);
    expect(arr(p)).toEqual([9, 9, 9, 9, 1, 2, 9, 9]);
    expect(arr(N.pad(N.nd([], [0]), [[1, 1]]))).toEqual([0, 0]);
  });
  it('concat', () => {
    const c = N.concat([x, N.nd([6, 7, 8], [1, 3])], 0);
    expect(c.shape).toEqual([3, 3]);
    expect(arr(c)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const d = N.concat([x, N.nd([], [2, 0]), N.nd([9, 9], [2, 1])], -1);
    expect(arr(d)).toEqual([0, 1, 2, 9, 3, 4, 5, 9]);
  });
  it('gather = numpy.take(mode=clip)', () => {
    const g = N.gather(x, N.nd([2, 0, 7, -3], [2, 2]), 1);
    expect(g.shape).toEqual([2, 2, 2]);
    expect(arr(g)).toEqual([2, 0, 2, 0, 5, 3, 5, 3]);
    const r = N.gather(x, N.nd([1], []), 0);
    expect(r.shape).toEqual([3]);
    expect(arr(r)).toEqual([3, 4, 5]);
  });
  it('scatterAdd is the transpose of gather', () => {
    const u = N.nd([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    const s = N.scatterAdd(u, N.nd([2, 0, 2, 9], [2, 2]), 1, 3);
    expect(s.shape).toEqual([2, 3]);
    // row 0: idx 2 ← 1+3+4 (9 clipped to 2), idx 0 ← 2; row 1: idx 2 ← 5+7+8, idx 0 ← 6
    expect(arr(s)).toEqual([2, 0, 8, 6, 0, 20]);
    // <gather(x, I), u> == <x, scatterAdd(u, I)>
    const xg = N.fill([2, 3], ([i, j]) => i * 3 + j + 1);
    const I = N.nd([2, 0, 2, 1], [2, 2]);
    const lhs = N.fsum(Array.from(N.gather(xg, I, 1).data, (v, k) => v * u.data[k]));
    const sa = N.scatterAdd(u, I, 1, 3);
    const rhs = N.fsum(Array.from(xg.data, (v, k) => v * sa.data[k]));
    expect(lhs).toBe(rhs);
  });
});

describe('naive: matmul', () => {
  it('2-D', () => {
    const r = N.matmul(N.nd([1, 2, 3, 4, 5, 6], [2, 3]), N.nd([7, 8, 9, 10, 11, 12], [3, 2]));
    expect(r.shape).toEqual([2, 2]);
    expect(arr(r)).toEqual([58, 64, 139, 154]);
  });
  it('1-D promotion and batch broadcasting', () => {
    const a = N.nd([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(N.matmul(N.nd([1, 1, 1], [3]), N.nd([1, 2, 3], [3])).shape).toEqual([]);
    expect(arr(N.matmul(N.nd([1, 1, 1], [3]), N.nd([1, 2, 3], [3])))).toEqual([6]);
    const av = N.matmul(a, N.nd([1, 0, 1], [3]));
    expect(av.shape).toEqual([2]);
    expect(arr(av)).toEqual([4, 10]);
    const va = N.matmul(N.nd([1, 1], [2]), a);
    expect(va.shape).toEqual([3]);
    expect(arr(va)).toEqual([5, 7, 9]);
    const b3 = N.nd([1, 0, 0, 1, 2, 0, 0, 2], [2, 1, 2, 2]); // batch [2,1] of 2x2
    const a3 = N.fill([3, 2, 2], ([b, i, j]) => b * 4 + i * 2 + j);
    const r = N.matmul(a3, b3);
    expect(r.shape).toEqual([2, 3, 2, 2]);
    expect(arr(r).slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(arr(r).slice(12, 16)).toEqual([0, 2, 4, 6]);
    expect(N.matmul(N.nd([], [0, 3]), N.nd([], [3, 0])).shape).toEqual([0, 0]);
    expect(arr(N.matmul(N.nd([], [2, 0]), N.nd([], [0, 2])))).toEqual([0, 0, 0, 0]);
    const v3 = N.matmul(N.nd([1, 2], [2]), N.nd([1, 0, 0, 1, 2, 0, 0, 2], [2, 2, 2]));
    expect(v3.shape).toEqual([2, 2]);
    expect(arr(v3)).toEqual([1, 2, 2, 4]);
    expect(() => N.matmul(N.nd([1, 2], [1, 2]), N.nd([1, 2, 3], [3, 1]))).toThrow();
  });
});
