/**
 * The module of the weight banks (backends/cpu/banks.ts): matrix–vector products over weights that live in a
 * WebAssembly memory of their own, instantiated over each bank's memory on every thread.
 *
 * - `gemv_bf16(x, w, y, K, n0, n1, ldw)`: wasm/bf16.ts's, over bfloat16 rows.
 * - `gemv_f32(x, w, y, K, n0, n1, ldw)`: y[n] = Σ_k x[k] · w[n·ldw + k] for n in [n0, n1), all float32 (a
 *   decoding step's `x · Wᵀ` with a float32 W too large for the runtime's heap: a 151,646-way head). Each row
 *   is summed like `gemv_bf16`'s: two f32x4 accumulators (k mod 8 < 4, ≥ 4), then across lanes, then the k tail.
 *
 * Addresses are only loaded from, never compared, so a bank may span its whole memory.
 */
import { Fn, L, encodeModule } from './emit.js';
import { gemv as gemvBF16 } from './bf16.js';

function gemvF32(): Fn {
  const f = new Fn('gemv_f32', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, w, y, K, n0, n1, ldw] = f.params;
  const n = f.local('i32');
  const k = f.local('i32');
  const row = f.local('i32');
  const k8 = f.local('i32');
  const acc0 = f.local('v128');
  const acc1 = f.local('v128');
  const s = f.local('f32');
  f.get(K).i32(-8).i32And().set(k8);
  f.forRange(n, L(n0), L(n1), 1, () => {
    f.get(w).get(n).get(ldw).i32Mul().i32(2).i32Shl().i32Add().set(row);
    f.v128Const([0, 0, 0, 0]).set(acc0);
    f.v128Const([0, 0, 0, 0]).set(acc1);
    f.forRange(k, 0, L(k8), 8, () => {
      f.get(acc0).get(x).get(k).i32(2).i32Shl().i32Add().v128Load();
      f.get(row).get(k).i32(2).i32Shl().i32Add().v128Load().f32x4Mul().f32x4Add().set(acc0);
      f.get(acc1).get(x).get(k).i32(2).i32Shl().i32Add().v128Load(16);
      f.get(row).get(k).i32(2).i32Shl().i32Add().v128Load(16).f32x4Mul().f32x4Add().set(acc1);
    });
    f.get(acc0).get(acc1).f32x4Add().set(acc0);
    f.get(acc0).f32x4ExtractLane(0).get(acc0).f32x4ExtractLane(1).f32Add().get(acc0).f32x4ExtractLane(2).f32Add().get(acc0).f32x4ExtractLane(3).f32Add().set(s);
    f.forRange(k, L(k8), L(K), 1, () => {
      f.get(s).get(x).get(k).i32(2).i32Shl().i32Add().f32Load();
      f.get(row).get(k).i32(2).i32Shl().i32Add().f32Load();
      f.f32Mul().f32Add().set(s);
    });
    f.get(y).get(n).i32(2).i32Shl().i32Add().get(s).f32Store();
  });
  return f;
}

/** Pages of a bank's memory at most (2 GiB less a page, as the runtime's memory: every i32 address is non-negative). */
export const BANK_PAGES = 32767;

/** The bank module's bytes: `gemv_bf16` and `gemv_f32` over an imported shared memory of at most BANK_PAGES pages. */
export const bankModuleBytes = (): Uint8Array<ArrayBuffer> => encodeModule({ memory: { initial: 1, maximum: BANK_PAGES, shared: true }, functions: [gemvBF16(), gemvF32()] });
