/**
 * bfloat16 weights decoded inside the kernels (backends/cpu/matmul-bf16.ts). A bfloat16 is the top half of a
 * float32, so eight of them become two f32x4 by `i32x4.extend_{low,high}_i16x8_u` and `i32x4.shl 16`.
 *
 * - `bf16_decode(src, dst, n)`: n bfloat16 at byte address src → n float32 at dst (exact).
 * - `gemv_bf16(x, w, y, K, n0, n1, ldw)`: y[n] = Σ_k x[k] · w[n·ldw + k] for n in [n0, n1): a matrix–vector
 *   product over rows of bfloat16 (a decoding step's `x · Wᵀ`, W row-major [N, K]); x and y float32. Each row
 *   is summed in four f32x4 accumulators (k mod 16 in quarters; a last block of 8 into the first two), added
 *   as (0 + 2) + (1 + 3), then across lanes, then the k tail in order.
 */
import { Fn, L } from './emit.js';

/** Push the float32 vector of the four bfloat16 in the low (or high) half of the v128 on top of the stack. */
const widen = (f: Fn, high: boolean): Fn => (high ? f.i32x4ExtendHighI16x8U() : f.i32x4ExtendLowI16x8U()).i32(16).i32x4Shl();

function decode(): Fn {
  const f = new Fn('bf16_decode', ['i32', 'i32', 'i32']);
  const [src, dst, n] = f.params;
  const k = f.local('i32');
  const v = f.local('v128');
  const n8 = f.local('i32');
  f.get(n).i32(-8).i32And().set(n8);
  f.forRange(k, 0, L(n8), 8, () => {
    f.get(src).get(k).i32(1).i32Shl().i32Add().v128Load().set(v);
    f.get(dst).get(k).i32(2).i32Shl().i32Add().get(v);
    widen(f, false).v128Store();
    f.get(dst).get(k).i32(2).i32Shl().i32Add().get(v);
    widen(f, true).v128Store(16);
  });
  f.forRange(k, L(n8), L(n), 1, () => {
    f.get(dst).get(k).i32(2).i32Shl().i32Add();
    f.get(src).get(k).i32(1).i32Shl().i32Add().i32Load16U().i32(16).i32Shl();
    f.i32Store();
  });
  return f;
}

/** The `gemv_bf16` kernel (also in the weight banks' module, backends/cpu/banks.ts). */
export function gemv(): Fn {
  const f = new Fn('gemv_bf16', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, w, y, K, n0, n1, ldw] = f.params;
  const n = f.local('i32');
  const k = f.local('i32');
  const row = f.local('i32');
  const k8 = f.local('i32');
  const k16 = f.local('i32');
  const acc = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const v = f.local('v128');
  const s = f.local('f32');
  /** acc[a] += (the four floats `xOffset` bytes past x[k]) · (the low or high four bfloat16 of v, widened) */
  const madd = (a: number, xOffset: number, high: boolean): void => {
    f.get(acc[a]).get(x).get(k).i32(2).i32Shl().i32Add().v128Load(xOffset).get(v);
    widen(f, high).f32x4Mul().f32x4Add().set(acc[a]);
  };
  f.get(K).i32(-8).i32And().set(k8);
  f.get(K).i32(-16).i32And().set(k16);
  f.forRange(n, L(n0), L(n1), 1, () => {
    f.get(w).get(n).get(ldw).i32Mul().i32(1).i32Shl().i32Add().set(row);
    for (const a of acc) f.v128Const([0, 0, 0, 0]).set(a);
    // 16 a step in four independent sums (an add's latency, not the loads, bounded the two-sum loop)
    f.forRange(k, 0, L(k16), 16, () => {
      f.get(row).get(k).i32(1).i32Shl().i32Add().v128Load().set(v);
      madd(0, 0, false);
      madd(1, 16, true);
      f.get(row).get(k).i32(1).i32Shl().i32Add().v128Load(16).set(v);
      madd(2, 32, false);
      madd(3, 48, true);
    });
    f.forRange(k, L(k16), L(k8), 8, () => {
      f.get(row).get(k).i32(1).i32Shl().i32Add().v128Load().set(v);
      madd(0, 0, false);
      madd(1, 16, true);
    });
    const acc0 = acc[0];
    f.get(acc0).get(acc[2]).f32x4Add().get(acc[1]).get(acc[3]).f32x4Add().f32x4Add().set(acc0);
    f.get(acc0).f32x4ExtractLane(0).get(acc0).f32x4ExtractLane(1).f32Add().get(acc0).f32x4ExtractLane(2).f32Add().get(acc0).f32x4ExtractLane(3).f32Add().set(s);
    f.forRange(k, L(k8), L(K), 1, () => {
      f.get(s).get(x).get(k).i32(2).i32Shl().i32Add().f32Load();
      f.get(row).get(k).i32(1).i32Shl().i32Add().i32Load16U().i32(16).i32Shl().f32ReinterpretI32();
      f.f32Mul().f32Add().set(s);
    });
    f.get(y).get(n).i32(2).i32Shl().i32Add().get(s).f32Store();
  });
  return f;
}

/** The bfloat16 kernels of the module. */
export const bf16Functions = (): Fn[] => [decode(), gemv()];
