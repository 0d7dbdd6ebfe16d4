/**
 * Sum / max reductions and scatter-add in WebAssembly SIMD, bit-identical to the JavaScript paths of
 * backends/cpu/host.ts (which remain for the cpu backend and engines without the kernels): each output is the
 * same float64 (or float32 max) operations in the same order, rounded once. Only independent chains are
 * vectorised: the lane pairs (s0, s1), (s2, s3) of one row's four partial sums, neighbouring columns,
 * several rows side by side (their chains interleave, hiding the add latency that bounds one row).
 */
import { Fn, L, type Local } from './emit.js';

/** Rows reduced side by side by sum_rows / max_rows. */
const ROWS = 4;
/** Column block widths (floats) of the column-wise sums; 1 is the scalar tail. */
const BLOCKS = [16, 2, 1] as const;

const range = <T>(n: number, fn: (k: number) => T): T[] => Array.from({ length: n }, (_, k) => fn(k));

/**
 * Loop over row groups of `G` rows while `o + G <= n`: `body` gets the group's row base addresses
 * (byte addresses `src + (o + g)·rowBytes`). `o` advances by G.
 */
function rowGroups(f: Fn, G: number, o: Local, n: Local, src: Local, rowBytes: Local, body: (base: Local[]) => void): void {
  const base = range(G, () => f.local('i32'));
  f.block().loop();
  f.get(o).i32(G).i32Add().get(n).i32GtS().brIf(1);
  base.forEach((b, g) => f.get(src).get(o).i32(g).i32Add().get(rowBytes).i32Mul().i32Add().set(b));
  body(base);
  f.addTo(o, G);
  f.br(0).end().end();
}

/** The address of output row `o + g` (floats at dst). */
const outAt = (f: Fn, dst: Local, o: Local, g: number): Fn => f.get(dst).get(o).i32(g).i32Add().i32(2).i32Shl().i32Add();

/** `sum_rows(src, dst, n, R)`: host.ts sumRows over n rows of R floats (R ≥ 1). */
function sumRows(): Fn {
  const f = new Fn('sum_rows', ['i32', 'i32', 'i32', 'i32']);
  const [src, dst, n, R] = f.params;
  const o = f.local('i32');
  const rowBytes = f.local('i32');
  const vecEnd = f.local('i32');
  const i = f.local('i32');
  const s0 = f.local('f64');
  f.get(R).i32(2).i32Shl().set(rowBytes);
  f.get(R).i32(-4).i32And().i32(2).i32Shl().set(vecEnd);
  f.i32(0).set(o);
  for (const G of [ROWS, 1]) {
    const a01 = range(G, () => f.local('v128'));
    const a23 = range(G, () => f.local('v128'));
    rowGroups(f, G, o, n, src, rowBytes, (base) => {
      for (let g = 0; g < G; g++) f.i32x4Const([0, 0, 0, 0]).tee(a01[g]).set(a23[g]);
      f.forRange(i, 0, L(vecEnd), 16, () => {
        for (let g = 0; g < G; g++) {
          f.get(a01[g]).get(base[g]).get(i).i32Add().v128Load64Zero(0).f64x2PromoteLowF32x4().f64x2Add().set(a01[g]);
          f.get(a23[g]).get(base[g]).get(i).i32Add().v128Load64Zero(8).f64x2PromoteLowF32x4().f64x2Add().set(a23[g]);
        }
      });
      for (let g = 0; g < G; g++) {
        // the tail goes to s0; then s0 + s1 + (s2 + s3)
        f.get(a01[g]).f64x2ExtractLane(0).set(s0);
        f.forRange(i, L(vecEnd), L(rowBytes), 4, () => f.get(s0).get(base[g]).get(i).i32Add().f32Load().f64PromoteF32().f64Add().set(s0));
        outAt(f, dst, o, g);
        f.get(s0).get(a01[g]).f64x2ExtractLane(1).f64Add();
        f.get(a23[g]).f64x2ExtractLane(0).get(a23[g]).f64x2ExtractLane(1).f64Add();
        f.f64Add().f32DemoteF64().f32Store();
      }
    });
  }
  return f;
}

/** Push `a > b ? a : b` (the `v > m` scan step: b wins ties and NaN). */
const gtSelect = (f: Fn, a: Local, b: Local): Fn => f.get(a).get(b).get(a).get(b).f32Gt().select();

/**
 * `max_rows(src, dst, n, R)`: host.ts maxRows (R ≥ 1): lanes m0..m3 scan i ≡ 1..4 (mod 4) from the
 * row's first value with `f32x4.pmax(m, v)` = `m < v ? v : m`, the tail goes to m0, then
 * m0 ← max(m0, m1), m2 ← max(m2, m3), max(m0, m2), each a `>` test.
 */
function maxRows(): Fn {
  const f = new Fn('max_rows', ['i32', 'i32', 'i32', 'i32']);
  const [src, dst, n, R] = f.params;
  const o = f.local('i32');
  const rowBytes = f.local('i32');
  const vecEnd = f.local('i32');
  const i = f.local('i32');
  const [x0, x1, x2, x3, v] = range(5, () => f.local('f32'));
  f.get(R).i32(2).i32Shl().set(rowBytes);
  f.get(R).i32(-1).i32Add().i32(-4).i32And().i32(2).i32Shl().i32(4).i32Add().set(vecEnd);
  f.i32(0).set(o);
  for (const G of [ROWS, 1]) {
    const m = range(G, () => f.local('v128'));
    rowGroups(f, G, o, n, src, rowBytes, (base) => {
      for (let g = 0; g < G; g++) f.get(base[g]).load32Splat().set(m[g]);
      f.forRange(i, 4, L(vecEnd), 16, () => {
        for (let g = 0; g < G; g++) f.get(m[g]).get(base[g]).get(i).i32Add().v128Load().f32x4Pmax().set(m[g]);
      });
      for (let g = 0; g < G; g++) {
        f.get(m[g]).f32x4ExtractLane(0).set(x0);
        f.forRange(i, L(vecEnd), L(rowBytes), 4, () => {
          f.get(base[g]).get(i).i32Add().f32Load().set(v);
          gtSelect(f, v, x0).set(x0);
        });
        f.get(m[g]).f32x4ExtractLane(1).set(x1);
        gtSelect(f, x1, x0).set(x0);
        f.get(m[g]).f32x4ExtractLane(2).set(x2);
        f.get(m[g]).f32x4ExtractLane(3).set(x3);
        gtSelect(f, x3, x2).set(x2);
        outAt(f, dst, o, g);
        gtSelect(f, x2, x0).f32Store();
      }
    });
  }
  return f;
}

/** Accumulators of a column block of W floats: W/2 f64x2 (W ≥ 2) or one f64. */
class Block {
  readonly acc: Local[];
  constructor(
    private readonly f: Fn,
    readonly W: number,
  ) {
    this.acc = W === 1 ? [f.local('f64')] : range(W / 2, () => f.local('v128'));
  }
  zero(): void {
    for (const a of this.acc) (this.W === 1 ? this.f.f32(0).f64PromoteF32() : this.f.i32x4Const([0, 0, 0, 0])).set(a);
  }
  /** Push the float64 values of accumulator h's floats at `addr` + 8h (the address is pushed by `addr`). */
  load(h: number, addr: () => void): void {
    addr();
    if (this.W === 1) this.f.f32Load().f64PromoteF32();
    else this.f.v128Load64Zero(8 * h).f64x2PromoteLowF32x4();
  }
  add(): void {
    if (this.W === 1) this.f.f64Add();
    else this.f.f64x2Add();
  }
  /** Round the accumulators to float32 and store them at `at` (a byte address local). */
  store(at: Local): void {
    const f = this.f;
    if (this.W === 1) {
      f.get(at).get(this.acc[0]).f32DemoteF64().f32Store();
    } else if (this.W === 2) {
      f.get(at).get(this.acc[0]).f32x4DemoteF64x2Zero().f32x4ExtractLane(0).f32Store();
      f.get(at).get(this.acc[0]).f32x4DemoteF64x2Zero().f32x4ExtractLane(1).f32Store(4);
    } else {
      for (let h = 0; h < this.acc.length; h += 2) {
        f.get(at).get(this.acc[h]).f32x4DemoteF64x2Zero().get(this.acc[h + 1]).f32x4DemoteF64x2Zero().shuffle32([0, 1, 4, 5]).v128Store(8 * h);
      }
    }
  }
}

/** Column blocks over a row of `rowBytes`: `body(block, kb)` for kb = the block's byte offset. */
function columnBlocks(f: Fn, rowBytes: Local, kb: Local, body: (b: Block) => void): void {
  f.i32(0).set(kb);
  for (const W of BLOCKS) {
    const b = new Block(f, W);
    f.block().loop();
    f.get(kb).i32(4 * W).i32Add().get(rowBytes).i32GtS().brIf(1);
    body(b);
    f.addTo(kb, 4 * W);
    f.br(0).end().end();
  }
}

/**
 * `sum_lead(src, dst, R, K)`: host.ts foldLeading's sum of a dense [R, K] block over R: per column,
 * acc += x[r] + x[r + 1] over row pairs, then the leftover row.
 */
function sumLead(): Fn {
  const f = new Fn('sum_lead', ['i32', 'i32', 'i32', 'i32']);
  const [src, dst, R, K] = f.params;
  const rowBytes = f.local('i32');
  const kb = f.local('i32');
  const p = f.local('i32');
  const q = f.local('i32');
  const pend = f.local('i32');
  const at = f.local('i32');
  f.get(K).i32(2).i32Shl().set(rowBytes);
  columnBlocks(f, rowBytes, kb, (b) => {
    b.zero();
    f.get(src).get(kb).i32Add().get(R).i32(-2).i32And().get(rowBytes).i32Mul().i32Add().set(pend);
    f.forRange(p, () => f.get(src).get(kb).i32Add(), L(pend), () => f.get(rowBytes).i32(1).i32Shl(), () => {
      f.get(p).get(rowBytes).i32Add().set(q);
      b.acc.forEach((a, h) => {
        f.get(a);
        b.load(h, () => f.get(p));
        b.load(h, () => f.get(q));
        b.add();
        b.add();
        f.set(a);
      });
    });
    f.get(R).i32(1).i32And().if();
    b.acc.forEach((a, h) => {
      f.get(a);
      b.load(h, () => f.get(pend));
      b.add();
      f.set(a);
    });
    f.end();
    f.get(dst).get(kb).i32Add().set(at);
    b.store(at);
  });
  return f;
}

/**
 * `scatter_rows(us, starts, list, dst, J, Q, P, ublock)`: scatter-add as a sum per output row: output
 * row (p, j) = Σ update rows `list[starts[j] … starts[j+1])` (byte offsets within block p of the
 * updates, `us + p·ublock`), in index order from +0, like host.ts's float64 accumulator.
 */
function scatterRows(): Fn {
  const f = new Fn('scatter_rows', ['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [us, starts, list, dst, J, Q, P, ublock] = f.params;
  const rowBytes = f.local('i32');
  const p = f.local('i32');
  const j = f.local('i32');
  const ub = f.local('i32');
  const at = f.local('i32');
  const lo = f.local('i32');
  const hi = f.local('i32');
  const e = f.local('i32');
  const kb = f.local('i32');
  const row = f.local('i32');
  f.get(Q).i32(2).i32Shl().set(rowBytes);
  f.get(dst).set(at);
  f.forRange(p, 0, L(P), 1, () => {
    f.get(us).get(p).get(ublock).i32Mul().i32Add().set(ub);
    f.forRange(j, 0, L(J), 1, () => {
      f.get(list).get(starts).get(j).i32(2).i32Shl().i32Add().tee(e).i32Load().i32(2).i32Shl().i32Add().set(lo);
      f.get(list).get(e).i32Load(4).i32(2).i32Shl().i32Add().set(hi);
      columnBlocks(f, rowBytes, kb, (b) => {
        b.zero();
        f.forRange(e, L(lo), L(hi), 4, () => {
          f.get(ub).get(e).i32Load().i32Add().get(kb).i32Add().set(row);
          b.acc.forEach((a, h) => {
            f.get(a);
            b.load(h, () => f.get(row));
            b.add();
            f.set(a);
          });
        });
        f.get(at).get(kb).i32Add().set(row);
        b.store(row);
      });
      f.addTo(at, L(rowBytes));
    });
  });
  return f;
}

export function reduceFunctions(): Fn[] {
  return [sumRows(), maxRows(), sumLead(), scatterRows()];
}
