/**
 * Data movement in WebAssembly SIMD for the strided copies, pads, concats and gathers of backends/cpu/host.ts:
 * runs of floats moved four at a time (V8's JavaScript loops move one per iteration, and
 * `TypedArray.set` over a subarray costs an allocation per run). All strides are in bytes.
 */
import { Fn, L, type Local } from './emit.js';

/** Copy a run of `inner` floats from `p` (float stride `si` bytes) to `q` (contiguous). */
function run(f: Fn, p: Local, q: Local, inner: Local, si: Local, j: Local, end: Local): void {
  f.get(inner).i32(2).i32Shl().set(end);
  f.get(si).i32(4).i32Eq().if();
  {
    f.i32(0).set(j);
    for (const step of [64, 16]) {
      f.block().loop();
      f.get(j).i32(step).i32Add().get(end).i32GtS().brIf(1);
      for (let b = 0; b < step; b += 16) f.get(q).get(j).i32Add().get(p).get(j).i32Add().v128Load(b).v128Store(b);
      f.addTo(j, step);
      f.br(0).end().end();
    }
    f.forRange(j, L(j), L(end), 4, () => f.get(q).get(j).i32Add().get(p).get(j).i32Add().f32Load().f32Store());
  }
  f.else();
  {
    const s = f.local('i32');
    f.get(p).set(s);
    f.forRange(j, 0, L(end), 4, () => {
      f.get(q).get(j).i32Add().get(s).f32Load().f32Store();
      f.addTo(s, L(si));
    });
  }
  f.end();
}

/**
 * `copy_nd(src, dst, inner, si, n1, s1, t1, n2, s2, t2, n3, s3, t3)`: for each (i3, i2, i1) < (n3, n2,
 * n1), the run of `inner` floats at src + i3·s3 + i2·s2 + i1·s1 (float stride si) to dst + i3·t3 +
 * i2·t2 + i1·t1.
 */
function copyNd(): Fn {
  const f = new Fn('copy_nd', range(13));
  const [src, dst, inner, si, n1, s1, t1, n2, s2, t2, n3, s3, t3] = f.params;
  const [i1, i2, i3, p1, q1, p2, q2, j, end] = Array.from({ length: 9 }, () => f.local('i32'));
  f.forRange(i3, 0, L(n3), 1, () => {
    f.get(src).set(p2);
    f.get(dst).set(q2);
    f.forRange(i2, 0, L(n2), 1, () => {
      f.get(p2).set(p1);
      f.get(q2).set(q1);
      f.forRange(i1, 0, L(n1), 1, () => {
        run(f, p1, q1, inner, si, j, end);
        f.addTo(p1, L(s1));
        f.addTo(q1, L(t1));
      });
      f.addTo(p2, L(s2));
      f.addTo(q2, L(t2));
    });
    f.addTo(src, L(s3));
    f.addTo(dst, L(t3));
  });
  return f;
}

function range(n: number): 'i32'[] {
  return Array.from({ length: n }, () => 'i32' as const);
}

/** `fill_f32(dst, n, value)`. */
function fill(): Fn {
  const f = new Fn('fill_f32', ['i32', 'i32', 'f32']);
  const [dst, n, value] = f.params;
  const v = f.local('v128');
  const j = f.local('i32');
  const end = f.local('i32');
  f.get(value).f32x4Splat().set(v);
  f.get(n).i32(2).i32Shl().set(end);
  f.i32(0).set(j);
  f.block().loop();
  f.get(j).i32(16).i32Add().get(end).i32GtS().brIf(1);
  f.get(dst).get(j).i32Add().get(v).v128Store();
  f.addTo(j, 16);
  f.br(0).end().end();
  f.forRange(j, L(j), L(end), 4, () => f.get(dst).get(j).i32Add().get(value).f32Store());
  return f;
}

/**
 * `gather_rows(src, rows, I, Q, P, sblock, dst)`: for p < P, i < I: Q floats from src + p·sblock +
 * rows[i] (a byte offset) to the next output row.
 */
function gatherRows(): Fn {
  const f = new Fn('gather_rows', range(7));
  const [src, rows, I, Q, P, sblock, dst] = f.params;
  const [p, i, s, q, j, end, four] = Array.from({ length: 7 }, () => f.local('i32'));
  f.i32(4).set(four);
  f.get(dst).set(q);
  f.forRange(p, 0, L(P), 1, () => {
    f.forRange(i, 0, L(I), 1, () => {
      f.get(src).get(rows).get(i).i32(2).i32Shl().i32Add().i32Load().i32Add().set(s);
      run(f, s, q, Q, four, j, end);
      f.get(q).get(Q).i32(2).i32Shl().i32Add().set(q);
    });
    f.addTo(src, L(sblock));
  });
  return f;
}

export function copyFunctions(): Fn[] {
  return [copyNd(), fill(), gatherRows()];
}
