/**
 * The gpu.js kernels of the fused attention primitives (ops/attention/primitive.ts): one source each, run
 * by every gpu.js mode. Query row i sees key j when the attributes' causal/window rule allows it and,
 * with a key mask (the optional last input, `[..batch, Tk]`, non-zero = real), the key is real. A row
 * that sees no key averages v over all Tk keys and gets L = MASK_VALUE (the composite's
 * `where(mask, s, MASK_VALUE)`: every score equal), and passes no gradient to q or k.
 */
import { sizeOf } from '../../shape.js';
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { broadcastView, kernelFn, lit, names, offsetOf, decompose, splitIndex, type GpuKernel } from '../../kernels/codegen.js';
import { attentionDims, MASK_VALUE, type AttentionAttrs } from './attrs.js';

/** Below this a row's L means "no visible key" (L = MASK_VALUE; a real logsumexp is far above). */
const EMPTY = -1e38;

/** `<key j visible from query i>` as a gpu.js condition (i, j are names; `km` the key mask's view). */
function visible(a: AttentionAttrs, km: View | undefined, x: string, b: readonly string[], i: string, j: string): string {
  const c: string[] = [];
  if (a.causal) {
    c.push(`${j} <= ${i} + ${lit(a.offset)}`);
    if (a.window > 0) c.push(`${j} > ${i} + ${lit(a.offset - a.window)}`);
  }
  if (km) c.push(`${x}[${offsetOf(km, [...b, j])}] > 0.5`);
  return c.length ? c.join(' && ') : 'true';
}

/** `let <name> = scale · Σ_d q[b, i, d] k[b, j, d];` (loop variable `<name>d`) */
function score(name: string, qv: View, kv: View, b: string[], i: string, j: string, d: number, scale: number): string {
  const dd = `${name}d`;
  return [
    `let ${name} = 0.0;`,
    `for (let ${dd} = 0; ${dd} < ${d}; ${dd}++) {`,
    `  ${name} = ${name} + x0[${offsetOf(qv, [...b, i, dd])}] * x1[${offsetOf(kv, [...b, j, dd])}];`,
    '}',
    `${name} = ${name} * ${lit(scale)};`,
  ].join('\n  ');
}

export function forwardKernel(n: Tensor, [q, k, v, keys]: readonly View[]): GpuKernel {
  const a = n.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const qv = broadcastView(q, [...batch, tq, d]);
  const kv = broadcastView(k, [...batch, tk, d]);
  const vv = broadcastView(v, [...batch, tk, dv]);
  const km = keys ? broadcastView(keys, [...batch, tk]) : undefined;
  const r = n.rank;
  const idx = names('i', r);
  const b = idx.slice(0, r - 2);
  const [i, c] = [idx[r - 2], idx[r - 1]];
  const body = [
    decompose(n.shape),
    `let m = ${lit(-Infinity)};`,
    `for (let j = 0; j < ${tk}; j++) {`,
    `  if (${visible(a, km, 'x3', b, i, 'j')}) {`,
    `  ${score('s1', qv, kv, b, i, 'j', d, a.scale)}`,
    '    if (s1 > m) {\n      m = s1;\n    }',
    '  }',
    '}',
    'let l = 0.0;',
    'let acc = 0.0;',
    `const cv = Math.min(${c}, ${lit(dv - 1)});`,
    `if (m < ${lit(EMPTY)}) {`,
    `  for (let j3 = 0; j3 < ${tk}; j3++) {`,
    `    acc = acc + x2[${offsetOf(vv, [...b, 'j3', 'cv'])}];`,
    '  }',
    `  if (${c} > ${lit(dv - 0.5)}) {\n    return ${lit(MASK_VALUE)};\n  }`,
    `  return acc / ${lit(tk)};`,
    '}',
    `for (let j2 = 0; j2 < ${tk}; j2++) {`,
    `  if (${visible(a, km, 'x3', b, i, 'j2')}) {`,
    `  ${score('s2', qv, kv, b, i, 'j2', d, a.scale)}`,
    '    const p = Math.exp(s2 - m);',
    '    l = l + p;',
    `    acc = acc + p * x2[${offsetOf(vv, [...b, 'j2', 'cv'])}];`,
    '  }',
    '}',
    `if (${c} > ${lit(dv - 0.5)}) {\n    return m + Math.log(l);\n  }`,
    'return acc / l;',
  ];
  return { source: kernelFn(km ? 4 : 3, body.join('\n  ')), inputs: km ? [qv, kv, vv, km] : [qv, kv, vv] };
}

export function gradKernel(n: Tensor, [q, k, v, fwd, g, keys]: readonly View[]): GpuKernel {
  const a = n.attrs as AttentionAttrs;
  const { batch, tq, tk, d, dv } = attentionDims(q, k, v);
  const nb = sizeOf(batch);
  const qv = broadcastView(q, [...batch, tq, d]);
  const kv = broadcastView(k, [...batch, tk, d]);
  const vv = broadcastView(v, [...batch, tk, dv]);
  const ov = broadcastView(fwd, [...batch, tq, dv + 1]);
  const gv = broadcastView(g, [...batch, tq, dv + 1]);
  const km = keys ? broadcastView(keys, [...batch, tk]) : undefined;
  const b = names('b', batch.length);
  const [nq, nk] = [nb * tq * d, nb * tk * d];
  /** statements defining, for query row `i` and key `j`: p<x> (prob) and ds<x> (scale·P·(dP − Δ + dL)) */
  const probAndGrad = (x: string, i: string, j: string, withGrad: boolean): string[] => [
    score(`s${x}`, qv, kv, b, i, j, d, a.scale),
    `const p${x} = Math.exp(s${x} - x3[${offsetOf(ov, [...b, i, String(lit(dv))])}]);`,
    ...(withGrad
      ? [
          `let dp${x} = 0.0;`,
          `let delta${x} = 0.0;`,
          `for (let c${x} = 0; c${x} < ${dv}; c${x}++) {`,
          `  const gc${x} = x4[${offsetOf(gv, [...b, i, `c${x}`])}];`,
          `  dp${x} = dp${x} + gc${x} * x2[${offsetOf(vv, [...b, j, `c${x}`])}];`,
          `  delta${x} = delta${x} + gc${x} * x3[${offsetOf(ov, [...b, i, `c${x}`])}];`,
          '}',
          `const ds${x} = ${lit(a.scale)} * p${x} * (dp${x} - delta${x} + x4[${offsetOf(gv, [...b, i, String(lit(dv))])}]);`,
        ]
      : []),
  ];
  const region = (x: string, base: number, rowLen: number, rows: number, rowName: string, colName: string): string[] => [
    `const t${x} = this.thread.x - ${lit(base)};`,
    `const bf${x} = Math.floor((t${x} + 0.5) / ${lit(rows * rowLen)});`,
    `const rr${x} = t${x} - bf${x} * ${lit(rows * rowLen)};`,
    `const ${rowName} = Math.floor((rr${x} + 0.5) / ${lit(rowLen)});`,
    `const ${colName} = rr${x} - ${rowName} * ${lit(rowLen)};`,
    ...splitIndex(`bf${x}`, batch, `b${x}`),
  ];
  const bq = names('bq', batch.length);
  const bk = names('bk', batch.length);
  const bv = names('bv', batch.length);
  const body = [
    `if (this.thread.x < ${lit(nq)}) {`,
    ...region('q', 0, d, tq, 'qi', 'qd'),
    '  let accq = 0.0;',
    `  for (let jq = 0; jq < ${tk}; jq++) {`,
    `    if (${visible(a, km, 'x5', bq, 'qi', 'jq')}) {`,
    ...probAndGrad('q', 'qi', 'jq', true).map((l) => l.replace(/\bb(\d)/g, 'bq$1')),
    `      accq = accq + dsq * x1[${offsetOf(kv, [...bq, 'jq', 'qd'])}];`,
    '    }',
    '  }',
    '  return accq;',
    '}',
    `if (this.thread.x < ${lit(nq + nk)}) {`,
    ...region('k', nq, d, tk, 'kj', 'kd'),
    '  let acck = 0.0;',
    `  for (let ik = 0; ik < ${tq}; ik++) {`,
    `    if (${visible(a, km, 'x5', bk, 'ik', 'kj')}) {`,
    ...probAndGrad('k', 'ik', 'kj', true).map((l) => l.replace(/\bb(\d)/g, 'bk$1')),
    `      acck = acck + dsk * x0[${offsetOf(qv, [...bk, 'ik', 'kd'])}];`,
    '    }',
    '  }',
    '  return acck;',
    '}',
    ...region('v', nq + nk, dv, tk, 'vj', 'vc'),
    'let accv = 0.0;',
    `for (let iv = 0; iv < ${tq}; iv++) {`,
    `  if (${visible(a, km, 'x5', bv, 'iv', 'vj')}) {`,
    ...probAndGrad('v', 'iv', 'vj', false).map((l) => l.replace(/\bb(\d)/g, 'bv$1')),
    `    accv = accv + pv * x4[${offsetOf(gv, [...bv, 'iv', 'vc'])}];`,
    `  } else if (x3[${offsetOf(ov, [...bv, 'iv', String(lit(dv))])}] < ${lit(EMPTY)}) {`,
    `    accv = accv + x4[${offsetOf(gv, [...bv, 'iv', 'vc'])}] / ${lit(tk)};`,
    '  }',
    '}',
    'return accv;',
  ];
  return { source: kernelFn(km ? 6 : 5, body.join('\n  ')), inputs: km ? [qv, kv, vv, ov, gv, km] : [qv, kv, vv, ov, gv] };
}
