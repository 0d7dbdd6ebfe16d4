/**
 * LayerNorm over the rows of a dense `[R, C]` block in WebAssembly SIMD, one row at a time (f32x4 over
 * C, a scalar tail for C mod 4), for the fused primitives of ops/layer-norm/primitive.ts:
 *
 * - `ln_fwd(x, w, b, y, R, C, epsBits)`: `y = (x − μ)·r·w + b`, r = 1/√(σ² + eps).
 * - `ln_bwd(x, w, g, dx, acc, R, C, epsBits, wb)`: dx = r·(a − mean(a) − x̂·mean(a·x̂)) per row
 *   with a = g·w; `wb` gets 2C floats, dweight = Σ g·x̂ | dbias = Σ g over the R rows (in the packed
 *   `[R + 2, C]` output wb is row R, right after dx; a thread's share of rows writes partial sums
 *   elsewhere). `acc` is 2C float64 of scratch (zeroed here) that holds them across rows, rounded once.
 *
 * Row statistics are folded in float64 in one pass over x minus the row's first value (see `stats`:
 * inputs with a large common offset do not cancel); x̂ = ((x − μ_hi) − μ_lo)·r in float32 with μ split
 * into two floats (x − μ_hi is exact where x is near μ: the cancelling case). eps comes as the bits of
 * a float32 (every argument is an i32, as in a job list).
 */
import { Fn, floatAt as at, widthLoops, type Local } from '../../backends/cpu/wasm/emit.js';

/** Push the byte address of float64 element j of the array at byte address `base`. */
const at64 = (f: Fn, base: Local, j: Local): Fn => f.get(base).get(j).i32(3).i32Shl().i32Add();
const zero64 = (f: Fn): Fn => f.f32(0).f64PromoteF32();

/** Locals and code shared by both kernels: per-row μ and r, and x̂ of four (or one) elements. */
class RowNorm {
  readonly j: Local;
  readonly muHi: Local;
  readonly muLo: Local;
  readonly rf: Local;
  readonly hiV: Local;
  readonly loV: Local;
  readonly rV: Local;
  private readonly eps: Local;
  private readonly n: Local;
  private readonly sh: Local;
  private readonly s1: Local;
  private readonly s2: Local;
  private readonly t: Local;
  private readonly v: Local;
  private readonly d: Local;
  private readonly shV: Local;
  /** Σd and Σd² in f64x2 lanes: two vectors' worth (8 chains: the add latency would bound 4) */
  private readonly acc: Local[];

  constructor(
    private readonly f: Fn,
    private readonly C: Local,
    epsBits: Local,
  ) {
    this.j = f.local('i32');
    [this.eps, this.n, this.sh, this.s1, this.s2, this.t] = [0, 1, 2, 3, 4, 5].map(() => f.local('f64'));
    [this.muHi, this.muLo, this.rf] = [0, 1, 2].map(() => f.local('f32'));
    [this.hiV, this.loV, this.rV, this.v, this.d, this.shV] = [0, 1, 2, 3, 4, 5].map(() => f.local('v128'));
    this.acc = [0, 1, 2, 3, 4, 5, 6, 7].map(() => f.local('v128'));
    f.get(epsBits).f32ReinterpretI32().f64PromoteF32().set(this.eps);
    f.get(C).f64ConvertI32S().set(this.n);
  }

  /** acc[4k…4k+3] += d, d² of the four floats at element j of `row` (+ 16 bytes with k = 1), as two f64 pairs. */
  private fold(row: Local, k: number): void {
    const { f, v, d, shV, acc } = this;
    at(f, row, this.j).v128Load(16 * k).set(v);
    for (const half of [0, 1]) {
      const [s, q] = [acc[4 * k + half], acc[4 * k + 2 + half]];
      f.get(v);
      if (half) f.get(v).shuffle32([2, 3, 0, 1]);
      f.f64x2PromoteLowF32x4().get(shV).f64x2Sub().set(d);
      f.get(s).get(d).f64x2Add().set(s);
      f.get(q).get(d).get(d).f64x2Mul().f64x2Add().set(q);
    }
  }

  /**
   * μ and r of the row at byte address `row`, as float32 μ_hi + μ_lo and r (scalars and splats). One
   * pass in float64 over d = x − x₀ (x₀ the row's first value): σ² = mean(d²) − mean(d)². As x₀ is one
   * of the row's values, mean(d)² ≤ (C − 1)·σ², so the subtraction loses at most log10(C) of float64's
   * 16 digits, and rows with a large common offset do not cancel.
   */
  stats(row: Local): void {
    const { f, j, sh, s1, s2, t, acc } = this;
    f.get(row).f32Load().f64PromoteF32().tee(sh).f64x2Splat().set(this.shV);
    for (const a of acc) f.i32x4Const([0, 0, 0, 0]).set(a);
    zero64(f).tee(s1).set(s2);
    const one = (): void => {
      at(f, row, j).f32Load().f64PromoteF32().get(sh).f64Sub().set(t);
      f.get(s1).get(t).f64Add().set(s1);
      f.get(s2).get(t).get(t).f64Mul().f64Add().set(s2);
    };
    widthLoops(f, j, this.C, [[8, () => (this.fold(row, 0), this.fold(row, 1))], [4, () => this.fold(row, 0)], [1, one]]);
    /** Σ of the pairs acc[i], acc[i + 1], acc[i + 4], acc[i + 5] and the tail, / C: pushed */
    const meanOf = (i: number, tail: Local) => {
      f.get(acc[i]).get(acc[i + 1]).f64x2Add().get(acc[i + 4]).get(acc[i + 5]).f64x2Add().f64x2Add().set(this.d);
      f.get(this.d).f64x2ExtractLane(0).get(this.d).f64x2ExtractLane(1).f64Add().get(tail).f64Add().get(this.n).f64Div();
    };
    meanOf(0, s1);
    f.set(s1); // mean(d)
    meanOf(2, s2);
    f.get(s1).get(s1).f64Mul().f64Sub();
    f.f32(0).f64PromoteF32().f64Max(); // (σ² ≥ 0 up to rounding; eps may be 0)
    // r = 1/√(σ² + eps), μ = x₀ + mean(d), then the float32 forms
    f.get(this.eps).f64Add().f64Sqrt().set(t);
    f.f32(1).f64PromoteF32().get(t).f64Div().f32DemoteF64().set(this.rf);
    f.get(sh).get(s1).f64Add().tee(t).f32DemoteF64().set(this.muHi);
    f.get(t).get(this.muHi).f64PromoteF32().f64Sub().f32DemoteF64().set(this.muLo);
    f.get(this.muHi).f32x4Splat().set(this.hiV);
    f.get(this.muLo).f32x4Splat().set(this.loV);
    f.get(this.rf).f32x4Splat().set(this.rV);
  }

  /** Push x̂ of the four floats at element j of `row` (after `stats`). */
  vec(row: Local): Fn {
    return at(this.f, row, this.j).v128Load().get(this.hiV).f32x4Sub().get(this.loV).f32x4Sub().get(this.rV).f32x4Mul();
  }

  /** Push x̂ of element j of `row` (f32). */
  one(row: Local): Fn {
    return at(this.f, row, this.j).f32Load().get(this.muHi).f32Sub().get(this.muLo).f32Sub().get(this.rf).f32Mul();
  }
}

function forwardFn(): Fn {
  const f = new Fn('ln_fwd', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, w, b, y, R, C, epsBits] = f.params;
  const ln = new RowNorm(f, C, epsBits);
  const { j } = ln;
  const [i, xr, yr] = [f.local('i32'), f.local('i32'), f.local('i32')];
  f.get(x).set(xr).get(y).set(yr);
  f.forRange(i, 0, { local: R }, 1, () => {
    ln.stats(xr);
    const vec = (): void => {
      at(f, yr, j);
      ln.vec(xr);
      at(f, w, j).v128Load().f32x4Mul();
      at(f, b, j).v128Load().f32x4Add().v128Store();
    };
    const one = (): void => {
      at(f, yr, j);
      ln.one(xr);
      at(f, w, j).f32Load().f32Mul();
      at(f, b, j).f32Load().f32Add().f32Store();
    };
    widthLoops(f, j, C, [[4, vec], [1, one]]);
    f.get(xr).get(C).i32(2).i32Shl().i32Add().set(xr);
    f.get(yr).get(C).i32(2).i32Shl().i32Add().set(yr);
  });
  return f;
}

function backwardFn(): Fn {
  const f = new Fn('ln_bwd', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, w, g, out, acc, R, C, epsBits, wb] = f.params;
  const ln = new RowNorm(f, C, epsBits);
  const { j } = ln;
  const [i, xr, gr, or, db] = [0, 1, 2, 3, 4].map(() => f.local('i32'));
  const [xh, gv, a, sa0, sa1, sx0, sx1, maV, mxV] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(() => f.local('v128'));
  const [xs, gs, as, ma, mx] = [0, 1, 2, 3, 4].map(() => f.local('f32'));
  const [ta, tx] = [f.local('f64'), f.local('f64')];
  // acc: dweight (float64) at acc, dbias at db = acc + 8C
  f.get(acc).get(C).i32(3).i32Shl().i32Add().set(db);
  f.forRange(j, 0, () => f.get(C).i32(1).i32Shl(), 1, () => void zero64(at64(f, acc, j)).f64Store());
  f.get(x).set(xr).get(g).set(gr).get(out).set(or);
  /** acc[j…] += the float32 lanes of v (two f64x2 adds; lanes 0–1 then 2–3). The address is pushed twice: store, load. */
  const accumulate = (base: Local, v: Local) => {
    at64(at64(f, base, j), base, j).v128Load().get(v).f64x2PromoteLowF32x4().f64x2Add().v128Store();
    at64(at64(f, base, j), base, j).v128Load(16).get(v).get(v).shuffle32([2, 3, 0, 1]).f64x2PromoteLowF32x4().f64x2Add().v128Store(16);
  };
  /** acc[j] += v (f32) */
  const accumulate1 = (base: Local, v: Local) => void at64(at64(f, base, j), base, j).f64Load().get(v).f64PromoteF32().f64Add().f64Store();
  /** s0 + s1 (f64x2 pairs) and the tail, / C, as f32 */
  const meanOf = (s0: Local, s1: Local, tail: Local) =>
    f.get(s0).get(s1).f64x2Add().set(s0).get(s0).f64x2ExtractLane(0).get(s0).f64x2ExtractLane(1).f64Add().get(tail).f64Add().get(C).f64ConvertI32S().f64Div().f32DemoteF64();
  f.forRange(i, 0, { local: R }, 1, () => {
    ln.stats(xr);
    // Σa, Σa·x̂ (float64) and dweight += g·x̂, dbias += g
    for (const s of [sa0, sa1, sx0, sx1]) f.i32x4Const([0, 0, 0, 0]).set(s);
    zero64(f).set(ta);
    zero64(f).set(tx);
    const sums = (v: Local, s0: Local, s1: Local) => {
      f.get(s0).get(v).f64x2PromoteLowF32x4().f64x2Add().set(s0);
      f.get(s1).get(v).get(v).shuffle32([2, 3, 0, 1]).f64x2PromoteLowF32x4().f64x2Add().set(s1);
    };
    const foldVec = (): void => {
      ln.vec(xr).set(xh);
      at(f, gr, j).v128Load().set(gv);
      f.get(gv);
      at(f, w, j).v128Load().f32x4Mul().set(a);
      sums(a, sa0, sa1);
      f.get(a).get(xh).f32x4Mul().set(a);
      sums(a, sx0, sx1);
      f.get(gv).get(xh).f32x4Mul().set(a);
      accumulate(acc, a);
      accumulate(db, gv);
    };
    const foldOne = (): void => {
      ln.one(xr).set(xs);
      at(f, gr, j).f32Load().set(gs);
      f.get(gs);
      at(f, w, j).f32Load().f32Mul().set(as);
      f.get(ta).get(as).f64PromoteF32().f64Add().set(ta);
      f.get(tx).get(as).get(xs).f32Mul().f64PromoteF32().f64Add().set(tx);
      f.get(gs).get(xs).f32Mul().set(as);
      accumulate1(acc, as);
      accumulate1(db, gs);
    };
    widthLoops(f, j, C, [[4, foldVec], [1, foldOne]]);
    meanOf(sa0, sa1, ta).set(ma);
    meanOf(sx0, sx1, tx).set(mx);
    f.get(ma).f32x4Splat().set(maV);
    f.get(mx).f32x4Splat().set(mxV);
    // dx = r·((a − mean(a)) − x̂·mean(a·x̂))
    const dxVec = (): void => {
      at(f, or, j);
      at(f, gr, j).v128Load();
      at(f, w, j).v128Load().f32x4Mul().get(maV).f32x4Sub();
      ln.vec(xr).get(mxV).f32x4Mul().f32x4Sub().get(ln.rV).f32x4Mul().v128Store();
    };
    const dxOne = (): void => {
      at(f, or, j);
      at(f, gr, j).f32Load();
      at(f, w, j).f32Load().f32Mul().get(ma).f32Sub();
      ln.one(xr).get(mx).f32Mul().f32Sub().get(ln.rf).f32Mul().f32Store();
    };
    widthLoops(f, j, C, [[4, dxVec], [1, dxOne]]);
    for (const p of [xr, gr, or]) f.get(p).get(C).i32(2).i32Shl().i32Add().set(p);
  });
  // dweight | dbias rounded to float32
  f.forRange(j, 0, () => f.get(C).i32(1).i32Shl(), 1, () => void at(f, wb, j).get(acc).get(j).i32(3).i32Shl().i32Add().f64Load().f32DemoteF64().f32Store());
  return f;
}

export function layerNormFunctions(): Fn[] {
  return [forwardFn(), backwardFn()];
}
