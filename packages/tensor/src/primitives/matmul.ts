/** Batched matrix product with NumPy broadcasting of the batch dims. */
import { TensorError, fmtShape } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { View } from '../backend.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, decompose, kernelFn, lit, names, offsetOf } from '../kernels/codegen.js';
import { definePrimitive, node } from './registry.js';
import { reshape, transpose } from './movement.js';
import { sumToShape } from './reduce.js';

const swapLast = (x: Tensor): Tensor => transpose(x, [...x.shape.slice(0, -2).map((_, k) => k), x.rank - 1, x.rank - 2]);

/** A view whose dim `k` no longer moves the offset: the loop walks it instead. */
const withoutDim = (v: View, k: number): View => ({ ...v, strides: v.strides.map((s, j) => (j === k ? 0 : s)) });

definePrimitive({
  name: 'matmul',
  gpujs: (n, [a, b]) => {
    const r = n.rank;
    const [batch, K] = [n.shape.slice(0, -2), a.shape[a.shape.length - 1]];
    const av = broadcastView(a, [...batch, n.shape[r - 2], K]);
    const bv = broadcastView(b, [...batch, K, n.shape[r - 1]]);
    const i = names('i', r);
    const body = [
      decompose(n.shape),
      `const abase = ${offsetOf(withoutDim(av, r - 1), i)};`,
      `const bbase = ${offsetOf(withoutDim(bv, r - 2), i)};`,
      'let s = 0.0;',
      `for (let k = 0; k < ${K}; k++) {`,
      `  s = s + x0[abase + k * ${lit(av.strides[r - 1])}] * x1[bbase + k * ${lit(bv.strides[r - 2])}];`,
      '}',
      'return s;',
    ];
    return { source: kernelFn(2, body.join('\n  ')), inputs: [av, bv] };
  },
  vjp: (g, _o, [a, b]) => [
    a.dtype === 'float32' ? sumToShape(matmulND(g, swapLast(b)), a.shape) : null,
    b.dtype === 'float32' ? sumToShape(matmulND(swapLast(a), g), b.shape) : null,
  ],
});

function matmulND(a: Tensor, b: Tensor): Tensor {
  if (a.shape[a.rank - 1] !== b.shape[b.rank - 2]) {
    throw new TensorError('matmul', `inner dims differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  }
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    throw new TensorError('matmul', `batch dims of ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} cannot be broadcast together`);
  }
  const dtype = a.dtype === 'float32' || b.dtype === 'float32' ? 'float32' : 'int32';
  return node('matmul', [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]], dtype, [a, b]);
}

/**
 * Matrix product `a @ b` with NumPy semantics: `[..., M, K] @ [..., K, N] → [..., M, N]`, batch dims
 * broadcast; a 1-D operand is treated as a row (left) or column (right) vector and its dim dropped.
 * @example `matmul(ones([8, 2, 3]), ones([3, 4])).shape` → [8, 2, 4]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 0 || b.rank === 0) throw new TensorError('matmul', `operands must have rank ≥ 1, got ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  if (a2.shape[a2.rank - 1] !== b2.shape[b2.rank - 2]) {
    throw new TensorError('matmul', `inner dims differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}`);
  }
  let out = matmulND(a2, b2);
  if (a.rank === 1) out = reshape(out, [...out.shape.slice(0, -2), out.shape[out.rank - 1]]);
  if (b.rank === 1) out = reshape(out, out.shape.slice(0, -1));
  return out;
}
