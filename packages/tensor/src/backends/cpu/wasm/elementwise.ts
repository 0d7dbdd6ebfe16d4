/**
 * WebAssembly SIMD code for elementwise expression DAGs (fusion/expr.ts): one module per program,
 * four outputs per step, with vector exp / log / tanh (Cephes-style range reduction and minimax
 * polynomials, a few float32 ulp). The output is walked as [outer, inner]; input k is read at
 * `p_k + outer·so_k + inner·si_k` where the inner stride class is 0 (broadcast), 1 (contiguous) or
 * general (gathered lane by lane).
 */
import { Fn, L, encodeModule, type Local } from './emit.js';
import { isBool, topo, type Expr } from '../../../fusion/expr.js';
import { relaxedSimd } from '../relaxed-simd.js';

export type InnerClass = 0 | 1 | 'g';

const LOG2E = 1.4426950408889634;
/** 1.5·2^23 and its bit pattern: adding it to |v| < 2^22 rounds v to an integer (exp's range reduction). */
const ROUNDER = 12582912;
const ROUNDER_BITS = 0x4b400000;
/** Vectors per step of an elementwise kernel's main loop (inputs without gathered lanes). */
const UNROLL = 2;

/** Vector code helpers over one function: hoisted constants and f32x4 exp / log / tanh. */
export class VecCode {
  private readonly consts = new Map<string, Local>();
  private readonly pro: Fn;
  /** polynomial steps as one relaxed multiply-add (backends/cpu/relaxed-simd.ts) */
  private readonly fma = relaxedSimd();

  constructor(readonly f: Fn) {
    this.pro = new Fn('prologue', []);
  }

  /** A v128 local holding the splat of float `v` (set in the prologue). */
  c(v: number): Local {
    const key = `f${Object.is(v, -0) ? '-0' : v}`;
    let l = this.consts.get(key);
    if (l === undefined) {
      l = this.f.local('v128');
      this.pro.v128Const([v, v, v, v]).set(l);
      this.consts.set(key, l);
    }
    return l;
  }
  ci(v: number): Local {
    const key = `i${v}`;
    let l = this.consts.get(key);
    if (l === undefined) {
      l = this.f.local('v128');
      this.pro.i32x4Const([v, v, v, v]).set(l);
      this.consts.set(key, l);
    }
    return l;
  }
  finish(): void {
    this.f.bytes.unshift(...this.pro.bytes);
  }

  private tmp(): Local {
    return this.f.local('v128');
  }

  /** Polynomial Horner evaluation in x: c[0]·x^n + … + c[n]. */
  private horner(x: Local, coeffs: readonly number[]): Local {
    const f = this.f;
    const y = this.tmp();
    f.get(this.c(coeffs[0])).set(y);
    for (const k of coeffs.slice(1)) {
      if (this.fma) f.get(y).get(x).get(this.c(k)).f32x4RelaxedMadd().set(y);
      else f.get(y).get(x).f32x4Mul().get(this.c(k)).f32x4Add().set(y);
    }
    return y;
  }

  /**
   * e^t for t already clamped, before the scaling by 2^n: the Cody–Waite reduction t = n·ln2 + r and a
   * minimax polynomial in r. Returns 1 + r + r²·p(r), and `shifted`, whose bits hold n (see exp).
   */
  private expReduced(t: Local): { y: Local; shifted: Local } {
    const f = this.f;
    const fx = this.tmp();
    const r = this.tmp();
    const y = this.tmp();
    const shifted = this.tmp();
    // fx = round(t·log2e), nearest even: adding 1.5·2^23 leaves no fraction bits, so the sum is rounded
    // exactly as f32x4.nearest rounds, and the integer n stands in its low mantissa bits (n = bits(sum) −
    // bits(1.5·2^23)) — three cheap ops instead of nearest + trunc_sat (~9 instructions in V8 on x64)
    f.get(t).get(this.c(LOG2E)).f32x4Mul().get(this.c(ROUNDER)).f32x4Add().set(shifted);
    f.get(shifted).get(this.c(ROUNDER)).f32x4Sub().set(fx);
    f.get(t).get(fx).get(this.c(0.693359375)).f32x4Mul().f32x4Sub().get(fx).get(this.c(-2.12194440e-4)).f32x4Mul().f32x4Sub().set(r);
    const p = this.horner(r, [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]);
    // y = p·r² + r + 1
    f.get(p).get(r).get(r).f32x4Mul().f32x4Mul().get(r).f32x4Add().get(this.c(1)).f32x4Add().set(y);
    return { y, shifted };
  }

  exp(x: Local): Local {
    const f = this.f;
    const t = this.tmp();
    const out = this.tmp();
    // pmax / pmin (b < a ? b : a): one instruction each in V8 on x64, where max / min are ~7 (their NaN
    // rules); with x first, a NaN x comes through both (exp on 131 K floats: 197 → 134 µs, one thread)
    f.get(x).get(this.c(-104)).f32x4Pmax().get(this.c(89)).f32x4Pmin().set(t);
    const { y, shifted } = this.expReduced(t);
    // scale by 2^n as 2^(n>>1) · 2^(n − n>>1): both factors normal for n in [−150, 128]
    const n = this.tmp();
    f.get(shifted).get(this.ci(ROUNDER_BITS)).i32x4Sub().set(n);
    const n1 = this.tmp();
    f.get(n).i32(1).i32x4ShrS().set(n1);
    f.get(y).get(n1).get(this.ci(127)).i32x4Add().i32(23).i32x4Shl().f32x4Mul();
    f.get(n).get(n1).i32x4Sub().get(this.ci(127)).i32x4Add().i32(23).i32x4Shl().f32x4Mul().set(out);
    return out;
  }

  log(x: Local): Local {
    const f = this.f;
    const sub = this.tmp();
    const xs = this.tmp();
    const fe = this.tmp();
    const m = this.tmp();
    const lt = this.tmp();
    const z = this.tmp();
    const out = this.tmp();
    // subnormal inputs: scale by 2^23 first
    f.get(x).get(this.c(1.1754943508222875e-38)).f32x4Lt().set(sub);
    f.get(x).get(this.c(8388608)).f32x4Mul().get(x).get(sub).v128Bitselect().set(xs);
    // exponent and mantissa in [0.5, 1)
    f.get(xs).i32(23).i32x4ShrS().get(this.ci(126)).i32x4Sub().f32x4ConvertI32x4S();
    f.get(this.c(-23)).get(this.c(0)).get(sub).v128Bitselect().f32x4Add().set(fe);
    f.get(xs).get(this.ci(0x007fffff)).v128And().get(this.ci(0x3f000000)).v128Or().set(m);
    f.get(m).get(this.c(0.70710678118654752)).f32x4Lt().set(lt);
    f.get(fe).get(this.c(1)).f32x4Sub().get(fe).get(lt).v128Bitselect().set(fe);
    f.get(m).get(m).f32x4Add().get(this.c(1)).f32x4Sub().get(m).get(this.c(1)).f32x4Sub().get(lt).v128Bitselect().set(m);
    f.get(m).get(m).f32x4Mul().set(z);
    const p = this.horner(m, [7.0376836292e-2, -1.151461031e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1]);
    // y = p·m·z + fe·C2 − z/2 ; r = m + y + fe·C1
    f.get(p).get(m).f32x4Mul().get(z).f32x4Mul();
    f.get(fe).get(this.c(-2.12194440e-4)).f32x4Mul().f32x4Add();
    f.get(z).get(this.c(0.5)).f32x4Mul().f32x4Sub();
    f.get(m).f32x4Add();
    f.get(fe).get(this.c(0.693359375)).f32x4Mul().f32x4Add().set(out);
    // specials: 0 → −inf, < 0 → NaN, +inf → +inf, NaN → NaN
    f.get(this.c(-Infinity)).get(out).get(x).get(this.c(0)).f32x4Eq().v128Bitselect().set(out);
    f.get(this.c(NaN)).get(out).get(x).get(this.c(0)).f32x4Lt().v128Bitselect().set(out);
    f.get(x).get(out).get(x).get(this.c(Infinity)).f32x4Eq().v128Bitselect().set(out);
    f.get(x).get(out).get(x).get(x).f32x4Ne().v128Bitselect().set(out);
    return out;
  }

  /**
   * tanh: x + x³·p(x²) for |x| ≤ 0.625, else sign(x)·(1 − 2/(e^(2|x|) + 1)). e^(2|x|) is exp's reduction
   * with 2|x| clamped to 20 only (tanh is ±1 in float32 well before: e^20 ≈ 5e8) — no lower clamp, one
   * scaling by 2^n (n ≤ 29) — and the sign is copied in with bit ops. On 131 K floats, one thread: 359 µs
   * with the full exp, 292 with exp's pmax / pmin clamps, 256 with this. NaN takes the polynomial branch
   * and comes out NaN.
   */
  tanh(x: Local): Local {
    const f = this.f;
    const z = this.tmp();
    const t = this.tmp();
    const big = this.tmp();
    const x2 = this.tmp();
    const out = this.tmp();
    f.get(x).f32x4Abs().set(z);
    f.get(z).get(z).f32x4Add().get(this.c(20)).f32x4Pmin().set(t);
    const { y, shifted } = this.expReduced(t);
    // e = y·2^n; big = 1 − 2/(e + 1), with x's sign
    f.get(y).get(shifted).get(this.ci(ROUNDER_BITS - 127)).i32x4Sub().i32(23).i32x4Shl().f32x4Mul();
    f.get(this.c(1)).f32x4Add().set(big);
    f.get(this.c(1)).get(this.c(2)).get(big).f32x4Div().f32x4Sub();
    f.get(x).get(this.ci(-0x80000000)).v128And().v128Or().set(big);
    f.get(x).get(x).f32x4Mul().set(x2);
    const p = this.horner(x2, [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1]);
    f.get(p).get(x2).f32x4Mul().get(x).f32x4Mul().get(x).f32x4Add().set(out);
    f.get(big).get(out).get(z).get(this.c(0.625)).f32x4Gt().v128Bitselect().set(out);
    return out;
  }

  /** Emit every node the roots need, each once (`load(i)` pushes input i's vector); returns the roots' locals. */
  emit(roots: readonly Expr[], load: (i: number) => void): Local[] {
    const f = this.f;
    const val = new Map<Expr, Local>();
    for (const e of roots.flatMap((r) => topo(r))) {
      if (val.has(e)) continue;
      let l: Local;
      const get = (x: Expr) => f.get(val.get(x)!);
      switch (e.k) {
        case 'num':
          l = this.c(e.v);
          break;
        case 'in':
          l = this.tmp();
          load(e.i);
          f.set(l);
          break;
        case 'un':
          l = this.tmp();
          get(e.a);
          if (e.op === 'neg') f.f32x4Neg();
          else f.v128Not();
          f.set(l);
          break;
        case 'bin': {
          l = this.tmp();
          get(e.a);
          get(e.b);
          const ops: Record<string, () => void> = {
            '+': () => f.f32x4Add(),
            '-': () => f.f32x4Sub(),
            '*': () => f.f32x4Mul(),
            '/': () => f.f32x4Div(),
            '<': () => f.f32x4Lt(),
            '<=': () => f.f32x4Le(),
            '>': () => f.f32x4Gt(),
            '>=': () => f.f32x4Ge(),
            '===': () => f.f32x4Eq(),
            '!==': () => f.f32x4Ne(),
            '&&': () => f.v128And(),
            '||': () => f.v128Or(),
          };
          ops[e.op]();
          f.set(l);
          break;
        }
        case 'sel':
          l = this.tmp();
          get(e.a);
          get(e.b);
          get(e.c);
          f.v128Bitselect().set(l);
          break;
        case 'call': {
          const a = val.get(e.args[0])!;
          switch (e.f) {
            case 'exp':
              l = this.exp(a);
              break;
            case 'log':
              l = this.log(a);
              break;
            case 'tanh':
              l = this.tanh(a);
              break;
            case 'sqrt':
              l = this.tmp();
              f.get(a).f32x4Sqrt().set(l);
              break;
            case 'abs':
              l = this.tmp();
              f.get(a).f32x4Abs().set(l);
              break;
            case 'floor':
              l = this.tmp();
              f.get(a).f32x4Floor().set(l);
              break;
            case 'ceil':
              l = this.tmp();
              f.get(a).f32x4Ceil().set(l);
              break;
            case 'min':
            case 'max':
              l = this.tmp();
              f.get(a).get(val.get(e.args[1])!);
              if (e.f === 'min') f.f32x4Min();
              else f.f32x4Max();
              f.set(l);
              break;
            default:
              throw new Error(`no SIMD ${e.f}`);
          }
          break;
        }
      }
      val.set(e, l);
    }
    if (roots.some(isBool)) throw new Error('boolean root');
    return roots.map((r) => val.get(r)!);
  }
}

/**
 * The module of one program: `ew(out, outerN, innerN, p0, so0[, si0], p1, so1[, si1], …)`; addresses and
 * strides in bytes. With several roots (a group's extra outputs) `ew(out, outerN, innerN, ostride, …)`:
 * root q is written at `out + q·ostride`.
 */
export function elementwiseModule(roots: readonly Expr[], classes: readonly InnerClass[]): Uint8Array<ArrayBuffer> {
  const multi = roots.length > 1;
  const params: ('i32')[] = multi ? ['i32', 'i32', 'i32', 'i32'] : ['i32', 'i32', 'i32'];
  for (const c of classes) params.push(...((c === 'g' ? ['i32', 'i32', 'i32'] : ['i32', 'i32']) as 'i32'[]));
  const f = new Fn('ew', params);
  const [out, outerN, innerN] = f.params;
  // byte offsets of outputs 1, 2, … from output 0
  const offs = roots.slice(1).map((_, q) => {
    const l = f.local('i32');
    f.get(f.params[3]).i32(q + 1).i32Mul().set(l);
    return l;
  });
  /** store vector `res[q]` of each root at `out + 16·at` (+ its output's offset) */
  const store = (res: readonly Local[], at: number, lane = false): void =>
    res.forEach((r, q) => {
      f.get(out);
      if (q > 0) f.get(offs[q - 1]).i32Add();
      if (lane) f.get(r).f32x4ExtractLane(0).f32Store();
      else f.get(r).v128Store(16 * at);
    });
  const inp: { p: Local; so: Local; si?: Local; q: Local; row: Local; si4?: Local }[] = [];
  let k = multi ? 4 : 3;
  for (const c of classes) {
    const p = f.params[k++];
    const so = f.params[k++];
    const si = c === 'g' ? f.params[k++] : undefined;
    inp.push({ p, so, si, q: f.local('i32'), row: f.local('i32'), si4: c === 'g' ? f.local('i32') : undefined });
  }
  const o = f.local('i32');
  const i = f.local('i32');
  const code = new VecCode(f);
  inp.forEach((x) => {
    f.get(x.p).set(x.row);
    if (x.si4 !== undefined) f.get(x.si!).i32(2).i32Shl().set(x.si4);
  });
  f.forRange(o, 0, L(outerN), 1, () => {
    inp.forEach((x) => f.get(x.row).set(x.q));
    f.i32(0).set(i);
    if (classes.every((c) => c !== 'g')) {
      // UNROLL vectors a step: independent dependency chains interleave. exp and tanh are long chains
      // that one vector at a time left mostly waiting (gelu_new's tanh chain on 131 K floats: 549 → 407 µs,
      // exp 224 → 195 µs, one thread; 3 and 4 vectors measured the same as 2)
      f.block().loop();
      const U = UNROLL;
      f.get(i).i32(4 * U).i32Add().get(innerN).i32GtS().brIf(1);
      const pair = Array.from({ length: U }, (_, k) => 16 * k).map((at) =>
        code.emit(roots, (n) => {
          const x = inp[n];
          if (classes[n] === 0) f.get(x.q).load32Splat();
          else f.get(x.q).v128Load(at);
        }),
      );
      pair.forEach((res, k) => store(res, k));
      f.addTo(out, 16 * U);
      inp.forEach((x, n) => {
        if (classes[n] === 1) f.addTo(x.q, 16 * U);
      });
      f.addTo(i, 4 * U);
      f.br(0).end().end();
    }
    // vector steps
    f.block().loop();
    f.get(i).i32(4).i32Add().get(innerN).i32GtS().brIf(1);
    const res = code.emit(roots, (n) => {
      const x = inp[n];
      const c = classes[n];
      if (c === 0) f.get(x.q).load32Splat();
      else if (c === 1) f.get(x.q).v128Load();
      else {
        f.get(x.q).load32Splat();
        for (let lane = 1; lane < 4; lane++) f.get(x.q).get(x.si!).i32(lane).i32Mul().i32Add().f32Load().f32x4ReplaceLane(lane);
      }
    });
    store(res, 0);
    f.addTo(out, 16);
    inp.forEach((x, n) => {
      if (classes[n] === 1) f.addTo(x.q, 16);
      else if (classes[n] === 'g') f.addTo(x.q, L(x.si4!));
    });
    f.addTo(i, 4);
    f.br(0).end().end();
    // scalar tail (lanes all equal)
    f.block().loop();
    f.get(i).get(innerN).i32GeS().brIf(1);
    const res1 = code.emit(roots, (n) => f.get(inp[n].q).load32Splat());
    store(res1, 0, true);
    f.addTo(out, 4);
    inp.forEach((x, n) => {
      if (classes[n] === 1) f.addTo(x.q, 4);
      else if (classes[n] === 'g') f.addTo(x.q, L(x.si!));
    });
    f.addTo(i, 1);
    f.br(0).end().end();
    inp.forEach((x) => f.addTo(x.row, L(x.so)));
  });
  code.finish();
  return encodeModule({ memory: { initial: 1, maximum: 32768, shared: true }, functions: [f] });
}
