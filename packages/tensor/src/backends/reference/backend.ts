/**
 * The `reference` backend: plain float64 loops, one per primitive, written for clarity, not speed.
 * It is the float64 ground truth of gradient checks (central differences need more than float32) and
 * a readable statement of each primitive's meaning.
 */
import type { Backend, Storage, View } from '../../backend.js';
import { newStorage } from '../../backend.js';
import { sizeOf, type Shape } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import { TensorError } from '../../errors.js';
import { referenceAttention, referenceAttentionGrad } from '../../ops/attention/reference.js';
import { referenceSoftmaxCrossEntropy, referenceSoftmaxCrossEntropyGrad } from '../../ops/softmax-cross-entropy/reference.js';
import { referenceLayerNorm, referenceLayerNormGrad } from '../../ops/layer-norm/reference.js';

/** Logical values of a view in C order, as float64. */
function dense(v: View): Float64Array {
  const n = sizeOf(v.shape);
  const out = new Float64Array(n);
  const src = v.storage.data!;
  const idx = new Array<number>(v.shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let pos = v.offset;
    for (let k = 0; k < idx.length; k++) pos += idx[k] * v.strides[k];
    out[i] = src[pos];
    for (let k = idx.length - 1; k >= 0; k--) {
      if (++idx[k] < v.shape[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Index of output multi-index `idx` in a (broadcast) input of `shape`. */
function bcastIndex(idx: readonly number[], shape: Shape): number {
  const lead = idx.length - shape.length;
  let flat = 0;
  for (let k = 0; k < shape.length; k++) flat = flat * shape[k] + (shape[k] === 1 ? 0 : idx[k + lead]);
  return flat;
}

function unravel(i: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

const ravel = (idx: readonly number[], shape: Shape): number => idx.reduce((f, d, k) => f * shape[k] + d, 0);

function erf64(x: number): number {
  const ax = Math.abs(x);
  // The series cancels badly as |x| grows; from 1.5 on the continued fraction is exact to float64.
  if (ax < 1.5) {
    let term = x;
    let total = x;
    for (let n = 1; n < 100; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      total += add;
      if (Math.abs(add) < 1e-17 * Math.abs(total)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * total;
  }
  // continued fraction for erfc, evaluated bottom-up
  let f = ax;
  for (let n = 80; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const GELU_S = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

const UNARY: Record<string, (a: number) => number> = {
  neg: (a) => -a,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (a) => 1 / Math.sqrt(a),
  tanh: Math.tanh,
  sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  erf: erf64,
  abs: Math.abs,
  sin: Math.sin,
  cos: Math.cos,
  reciprocal: (a) => 1 / a,
  geluTanh: (a) => 0.5 * a * (1 + Math.tanh(GELU_S * (a + GELU_C * a * a * a))),
  stopGradient: (a) => a,
  copy: (a) => a,
};

const BINARY: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: (a, b) => (a >= b ? a : b),
  minimum: (a, b) => (a <= b ? a : b),
  equal: (a, b) => +(a === b),
  notEqual: (a, b) => +(a !== b),
  less: (a, b) => +(a < b),
  lessEqual: (a, b) => +(a <= b),
  greater: (a, b) => +(a > b),
  greaterEqual: (a, b) => +(a >= b),
  geluTanhGrad: (x, g) => {
    const t = Math.tanh(GELU_S * (x + GELU_C * x * x * x));
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_S * (1 + 3 * GELU_C * x * x));
  },
};

type Impl = (node: Tensor, inputs: { shape: Shape; data: Float64Array }[]) => Float64Array;

const clampIndex = (v: number, n: number): number => Math.min(Math.max(v, 0), n - 1);

function reduce(node: Tensor, x: { shape: Shape; data: Float64Array }, fold: (acc: number[], v: number, j: number) => void, init: () => number[], pick: (acc: number[]) => number): Float64Array {
  const axes = node.attrs.axes as number[];
  const keptShape = x.shape.filter((_, k) => !axes.includes(k));
  const out = new Float64Array(sizeOf(keptShape));
  const redShape = axes.map((k) => x.shape[k]);
  for (let o = 0; o < out.length; o++) {
    const kept = unravel(o, keptShape);
    const acc = init();
    const nRed = sizeOf(redShape);
    for (let j = 0; j < nRed; j++) {
      const red = unravel(j, redShape);
      const full: number[] = [];
      let a = 0;
      let r = 0;
      for (let k = 0; k < x.shape.length; k++) full.push(axes.includes(k) ? red[r++] : kept[a++]);
      fold(acc, x.data[ravel(full, x.shape)], j);
    }
    out[o] = pick(acc);
  }
  return out;
}

const KERNELS: Record<string, Impl> = {
  attention: referenceAttention,
  attentionGrad: referenceAttentionGrad,
  softmaxCrossEntropy: referenceSoftmaxCrossEntropy,
  softmaxCrossEntropyGrad: referenceSoftmaxCrossEntropyGrad,
  layerNorm: referenceLayerNorm,
  layerNormGrad: referenceLayerNormGrad,
  where: (n, [c, a, b]) => Float64Array.from({ length: sizeOf(n.shape) }, (_, i) => {
    const idx = unravel(i, n.shape);
    return c.data[bcastIndex(idx, c.shape)] !== 0 ? a.data[bcastIndex(idx, a.shape)] : b.data[bcastIndex(idx, b.shape)];
  }),
  cast: (n, [x]) => x.data.map((v) => (n.dtype === 'int32' ? Math.trunc(v) : n.dtype === 'bool' ? +(v !== 0) : v)),
  sum: (n, [x]) => reduce(n, x, (acc, v) => void (acc[0] += v), () => [0], (acc) => acc[0]),
  max: (n, [x]) => reduce(n, x, (acc, v, j) => void (j === 0 || v > acc[0] ? (acc[0] = v) : 0), () => [0], (acc) => acc[0]),
  argmax: (n, [x]) => reduce(n, x, (acc, v, j) => void (j === 0 || v > acc[0] ? ((acc[0] = v), (acc[1] = j)) : 0), () => [0, 0], (acc) => acc[1]),
  pad: (n, [x]) => {
    const pads = n.attrs.pads as [number, number][];
    return Float64Array.from({ length: sizeOf(n.shape) }, (_, i) => {
      const src = unravel(i, n.shape).map((d, k) => d - pads[k][0]);
      return src.every((d, k) => d >= 0 && d < x.shape[k]) ? x.data[ravel(src, x.shape)] : (n.attrs.value as number);
    });
  },
  concat: (n, xs) => {
    const axis = n.attrs.axis as number;
    return Float64Array.from({ length: sizeOf(n.shape) }, (_, i) => {
      const idx = unravel(i, n.shape);
      let m = 0;
      while (idx[axis] >= xs[m].shape[axis]) idx[axis] -= xs[m++].shape[axis];
      return xs[m].data[ravel(idx, xs[m].shape)];
    });
  },
  gather: (n, [x, ind]) => {
    const axis = n.attrs.axis as number;
    const ir = ind.shape.length;
    return Float64Array.from({ length: sizeOf(n.shape) }, (_, i) => {
      const idx = unravel(i, n.shape);
      const j = clampIndex(ind.data[ravel(idx.slice(axis, axis + ir), ind.shape)], x.shape[axis]);
      return x.data[ravel([...idx.slice(0, axis), j, ...idx.slice(axis + ir)], x.shape)];
    });
  },
  scatterAdd: (n, [u, ind]) => {
    const axis = n.attrs.axis as number;
    const ir = ind.shape.length;
    const out = new Float64Array(sizeOf(n.shape));
    for (let p = 0; p < u.data.length; p++) {
      const idx = unravel(p, u.shape);
      const j = clampIndex(ind.data[ravel(idx.slice(axis, axis + ir), ind.shape)], n.shape[axis]);
      out[ravel([...idx.slice(0, axis), j, ...idx.slice(axis + ir)], n.shape)] += u.data[p];
    }
    return out;
  },
  matmul: (n, [a, b]) => {
    const r = n.shape.length;
    const [M, N, K] = [n.shape[r - 2], n.shape[r - 1], a.shape[a.shape.length - 1]];
    return Float64Array.from({ length: sizeOf(n.shape) }, (_, i) => {
      const idx = unravel(i, n.shape);
      const batch = idx.slice(0, -2);
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += a.data[bcastIndex([...batch, idx[r - 2], k], a.shape)] * b.data[bcastIndex([...batch, k, idx[r - 1]], b.shape)];
      }
      return M && N ? s : 0;
    });
  },
};

export class ReferenceBackend implements Backend {
  readonly name = 'reference' as const;

  execute(node: Tensor, inputs: readonly View[]): Storage {
    const xs = inputs.map((v) => ({ shape: v.shape, data: dense(v) }));
    let out: Float64Array;
    if (UNARY[node.op]) out = xs[0].data.map(UNARY[node.op]);
    else if (BINARY[node.op]) {
      const f = BINARY[node.op];
      out = Float64Array.from({ length: sizeOf(node.shape) }, (_, i) => {
        const idx = unravel(i, node.shape);
        return f(xs[0].data[bcastIndex(idx, xs[0].shape)], xs[1].data[bcastIndex(idx, xs[1].shape)]);
      });
    } else if (KERNELS[node.op]) out = KERNELS[node.op](node, xs);
    else throw new TensorError(node.op, 'no reference implementation');
    if (node.dtype === 'int32') out = out.map(Math.trunc);
    return newStorage('reference', out.length, out);
  }

  async read(storage: Storage): Promise<Float64Array> {
    return storage.data instanceof Float64Array ? storage.data : Float64Array.from(storage.data!);
  }

  release(): void {}

  kernelCount(): number {
    return 0;
  }
}

