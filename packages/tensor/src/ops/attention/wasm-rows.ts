/**
 * The row kernels of the blocked attention path (attention.ts: softmax, probabilities from the
 * logsumexp, dS from dP, over a block of scores), and what the small-shape path (attention-small.ts)
 * shares with it: the exp, the constant pool, the i32 helpers.
 *
 * Their exp is not VecCode's: wasm `f32x4.min` / `f32x4.max` and `i32x4.trunc_sat_f32x4_s` lower to
 * instruction sequences on x64 (NaN and overflow rules), so VecCode.exp measured ~2.7 ns per float in
 * V8 against ~0.7 for this one (XNNPACK's p5 polynomial after magic-bias rounding, whose low mantissa
 * bits, shifted, are 2^n directly). The reduction t = x − n·ln2 uses one constant, not a hi/lo pair:
 * 9 % faster softmax, relative error ≤ 2e-7 for x ≥ −4, ≤ 2.2e-6 below (on terms under 2 % of the
 * row's largest). Scores reaching it are ≤ ~0 (s − max, s − L), clamped below at −64: exp(−64) ≈
 * 1.6e-28 is 0 next to a row sum ≥ 1, and nearer −87 the product p·t·2^n goes subnormal, which made
 * peaked rows (most scores far below the max) 2.5× slower.
 */
import { Fn, L, type Local } from '../../backends/cpu/wasm/emit.js';
import { VecCode } from '../../backends/cpu/wasm/elementwise.js';

/** Name → the module's function of that name: callees are passed by handle and resolved to indices by encodeModule. */
export type Idx = (name: string) => Fn;

const hex = (mantissa: number, exp: number): number => (mantissa / 2 ** 24) * 2 ** exp;
/** 1.5·2^23 + 127: adding it rounds to an integer n and leaves n + 127 in the low mantissa bits */
const MAGIC = 12583039;
const P5 = [hex(0x10f9f9c, -7), hex(0x1573a1a, -5), hex(0x1555a80, -3), hex(0x1fffdc6, -2), hex(0x1fffff6, -1)];

/** Where a kernel gets its f32x4 constants from (VecCode, or ConstPool). */
export interface Consts {
  c(v: number): Local;
}

/**
 * f32x4 constants that V8 keeps in registers: written to scratch (`base`, 16 bytes per constant) and
 * loaded back on entry. V8 sees through a local set from `v128.const` and rematerializes the constant
 * at each use inside a loop (movq + vmovq + vpunpcklqdq, 3 instructions each): that made fastExp's
 * loop ~40 % slower than with loaded constants (0.96 vs 0.68 ns a float, measured).
 */
export class ConstPool implements Consts {
  private readonly locals = new Map<number, Local>();
  private readonly pro: Fn;
  constructor(
    private readonly f: Fn,
    private readonly base: Local,
  ) {
    this.pro = new Fn('prologue', []);
  }
  c(v: number): Local {
    let l = this.locals.get(v);
    if (l === undefined) {
      l = this.f.local('v128');
      const at = 16 * this.locals.size;
      this.pro.get(this.base).v128Const([v, v, v, v]).v128Store(at);
      this.pro.get(this.base).v128Load(at).set(l);
      this.locals.set(v, l);
    }
    return l;
  }
  /** Constants used, i.e. 16-byte slots the scratch must have. */
  get size(): number {
    return this.locals.size;
  }
  finish(): void {
    this.f.bytes.unshift(...this.pro.bytes);
  }
}

/** f32x4 exp of `x` (≤ ~88; see above) into a new local; constants hoisted through `vc`. */
export function fastExp(f: Fn, vc: Consts, x: Local): Local {
  const t = f.local('v128');
  const n = f.local('v128');
  const s = f.local('v128');
  f.get(x).get(vc.c(-64)).f32x4Pmax().set(t);
  f.get(t).get(vc.c(Math.LOG2E)).f32x4Mul().get(vc.c(MAGIC)).f32x4Add().set(n);
  f.get(n).i32(23).i32x4Shl().set(s);
  f.get(n).get(vc.c(MAGIC)).f32x4Sub().set(n);
  f.get(t).get(n).get(vc.c(Math.LN2)).f32x4Mul().f32x4Sub().set(t);
  f.get(t).get(vc.c(P5[0])).f32x4Mul();
  for (const c of P5.slice(1)) f.get(vc.c(c)).f32x4Add().get(t).f32x4Mul();
  // p·t·s + s with p·t already on the stack
  f.get(s).f32x4Mul().get(s).f32x4Add().set(n);
  return n;
}

/**
 * `<name>_n(pp, scratch, count)`: the one-head kernel `one` = `name(pp, scratch)` on `count` consecutive
 * parameter blocks of `words` words. A job of several heads: one job per head cost ~1 µs of
 * JavaScript each (job list, dispatch) on a [8, 4, 64, 16] call, before the JIT warms up.
 */
export function heads(name: string, one: Fn, words: number): Fn {
  const f = new Fn(`${name}_n`, ['i32', 'i32', 'i32']);
  const [pp, scr, count] = f.params;
  const h = f.local('i32');
  f.forRange(h, 0, L(count), 1, () => {
    f.get(pp).get(h).i32(4 * words).i32Mul().i32Add().get(scr).call(one);
  });
  return f;
}

/** Load param word `w` of block `pp` into a new i32 local. */
export function field(f: Fn, pp: Local, w: number): Local {
  const l = f.local('i32');
  f.get(pp).i32Load(4 * w).set(l);
  return l;
}

/** Push the smaller (`min`) or larger (`max`) of two i32 values, each pushed twice by its emitter. */
const pick = (less: boolean) => (f: Fn, a: () => void, b: () => void): void => {
  a();
  b();
  a();
  b();
  if (less) f.i32LtS();
  else f.i32GtS();
  f.select();
};
export const min = pick(true);
export const max = pick(false);

/**
 * Row kernels over a score block (row r at S + 4·r·ldS, columns c = key j − jstart), mode:
 * - 'softmax': P = softmax(scale·S) over the allowed columns (0 elsewhere); L → Lptr + 4·r·ldL
 * - 'probs':   P = exp(scale·S − L) over the allowed columns (0 elsewhere), L read from Lptr
 * - 'dscore':  dP ← scale·P∘(dP − Δ + dL) where Δ = Σ_c dO·O and dL = g[Dv] (row r of g / O at
 *              Lptr-relative pointers: here Lptr = g row 0, Optr = O row 0, both with stride ldL)
 */
export function rowKernel(mode: 'softmax' | 'probs' | 'dscore'): Fn {
  // (S, ldS, rows, i0, jstart, ncols, off, window, scaleBits, Lptr, ldL, Optr, dP, dvDim)
  const f = new Fn(`attn_${mode}`, Array(14).fill('i32'));
  const [S, ldS, rows, i0, jstart, ncols, off, window, scaleBits, Lp, ldL, Op, dP, dvDim] = f.params;
  const vc = new VecCode(f);
  const r = f.local('i32');
  const c = f.local('i32');
  const lo = f.local('i32');
  const hi = f.local('i32');
  const row = f.local('i32');
  const drow = f.local('i32');
  const scale = f.local('v128');
  const acc = f.local('v128');
  const x = f.local('v128');
  const mv = f.local('v128');
  const sf = f.local('f32');
  const lrow = f.local('i32');
  const orow = f.local('i32');
  f.get(scaleBits).f32ReinterpretI32().f32x4Splat().set(scale);

  f.forRange(r, 0, L(rows), 1, () => {
    // allowed columns [lo, hi) of this row
    const i = () => f.get(i0).get(r).i32Add();
    min(f, () => f.get(ncols), () => {
      i();
      f.get(off).i32Add().i32(1).i32Add().get(jstart).i32Sub();
    });
    f.set(hi);
    f.i32(0).set(lo);
    f.get(window).i32(0).i32GtS().if();
    max(f, () => f.i32(0), () => {
      i();
      f.get(off).i32Add().i32(1).i32Add().get(window).i32Sub().get(jstart).i32Sub();
    });
    f.set(lo);
    f.end();
    f.get(S).get(r).get(ldS).i32Mul().i32(2).i32Shl().i32Add().set(row);
    f.get(Lp).get(r).get(ldL).i32Mul().i32(2).i32Shl().i32Add().set(lrow);

    /** for c in [from, to): body(address of column c, vector?) with a splat tail */
    const columns = (from: Local, to: Local, body: (addr: () => void, vec: boolean) => void) => {
      f.get(from).set(c);
      f.block().loop();
      f.get(c).i32(4).i32Add().get(to).i32GtS().brIf(1);
      body(() => f.get(row).get(c).i32(2).i32Shl().i32Add(), true);
      f.addTo(c, 4);
      f.br(0).end().end();
      f.block().loop();
      f.get(c).get(to).i32GeS().brIf(1);
      body(() => f.get(row).get(c).i32(2).i32Shl().i32Add(), false);
      f.addTo(c, 1);
      f.br(0).end().end();
    };
    const load = (addr: () => void, vec: boolean) => {
      addr();
      if (vec) f.v128Load();
      else f.load32Splat();
    };
    const store = (addr: () => void, vec: boolean, value: () => void) => {
      addr();
      value();
      if (vec) f.v128Store();
      else f.f32x4ExtractLane(0).f32Store();
    };
    const zeroOutside = () => {
      const zero = f.local('i32');
      f.i32(0).set(zero);
      columns(zero, lo, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
      columns(hi, ncols, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
    };
    const hsum = (v: Local) => f.get(v).f32x4ExtractLane(0).get(v).f32x4ExtractLane(1).f32Add().get(v).f32x4ExtractLane(2).f32Add().get(v).f32x4ExtractLane(3).f32Add();

    if (mode === 'softmax') {
      // m = max scale·s ; p = exp(scale·s − m) ; l = Σ p ; P = p / l ; L = m + log l
      f.v128Const([-Infinity, -Infinity, -Infinity, -Infinity]).set(acc);
      columns(lo, hi, (a, vec) => {
        load(a, vec);
        f.get(scale).f32x4Mul().get(acc).f32x4Pmax().set(acc);
      });
      f.get(acc).f32x4ExtractLane(0).get(acc).f32x4ExtractLane(1).f32Max().get(acc).f32x4ExtractLane(2).f32Max().get(acc).f32x4ExtractLane(3).f32Max().set(sf);
      f.get(sf).f32x4Splat().set(mv);
      f.v128Const([0, 0, 0, 0]).set(acc);
      columns(lo, hi, (a, vec) => {
        load(a, vec);
        f.get(scale).f32x4Mul().get(mv).f32x4Sub().set(x);
        const e = fastExp(f, vc, x);
        if (vec) f.get(acc).get(e).f32x4Add().set(acc);
        else f.get(acc).get(e).v128Const([1, 0, 0, 0]).f32x4Mul().f32x4Add().set(acc);
        store(a, vec, () => f.get(e));
      });
      // acc lanes → l ; 1/l
      hsum(acc);
      f.f32x4Splat().set(x);
      const lg = vc.log(x);
      f.get(lrow).get(lg).f32x4ExtractLane(0).get(sf).f32Add().f32Store(4 * 0);
      f.v128Const([1, 1, 1, 1]).get(x).f32x4Div().set(x);
      columns(lo, hi, (a, vec) => store(a, vec, () => {
        load(a, vec);
        f.get(x).f32x4Mul();
      }));
      zeroOutside();
    } else if (mode === 'probs') {
      f.get(lrow).load32Splat().set(mv);
      columns(lo, hi, (a, vec) => {
        load(a, vec);
        f.get(scale).f32x4Mul().get(mv).f32x4Sub().set(x);
        const e = fastExp(f, vc, x);
        store(a, vec, () => f.get(e));
      });
      zeroOutside();
    } else {
      // Δ = Σ_c<Dv g·O ; dl = g[Dv] ; dP ← scale·P·(dP − Δ + dl)
      f.get(Op).get(r).get(ldL).i32Mul().i32(2).i32Shl().i32Add().set(orow);
      f.v128Const([0, 0, 0, 0]).set(acc);
      const cc = f.local('i32');
      f.forRange(cc, 0, L(dvDim), 1, () => {
        f.get(acc);
        f.get(lrow).get(cc).i32(2).i32Shl().i32Add().load32Splat();
        f.get(orow).get(cc).i32(2).i32Shl().i32Add().load32Splat();
        f.f32x4Mul().v128Const([1, 0, 0, 0]).f32x4Mul().f32x4Add().set(acc);
      });
      // mv = dl − Δ
      f.get(lrow).get(dvDim).i32(2).i32Shl().i32Add().f32Load();
      hsum(acc);
      f.f32Sub().f32x4Splat().set(mv);
      f.get(dP).get(r).get(ldS).i32Mul().i32(2).i32Shl().i32Add().set(drow);
      columns(lo, hi, (a, vec) => {
        // P at row (a), dP at drow + (a − row)
        const dpAddr = () => {
          f.get(drow).get(c).i32(2).i32Shl().i32Add();
        };
        dpAddr();
        load(a, vec);
        load(dpAddr, vec);
        f.get(mv).f32x4Add().f32x4Mul().get(scale).f32x4Mul();
        if (vec) f.v128Store();
        else f.f32x4ExtractLane(0).f32Store();
      });
      // zero dS outside the allowed columns
      const zero = f.local('i32');
      f.i32(0).set(zero);
      f.get(row).set(orow);
      f.get(drow).set(row);
      columns(zero, lo, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
      columns(hi, ncols, (a, vec) => store(a, vec, () => f.v128Const([0, 0, 0, 0])));
    }
  });
  vc.finish();
  return f;
}

