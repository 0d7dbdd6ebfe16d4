/** gather along an axis and its transpose, scatter-add. Out-of-range indices are clamped (as in JAX). */
import { TensorError, fmtShape } from '../errors.js';
import { normalizeAxis, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { decompose, kernelFn, lit, names, offsetOf } from '../kernels/codegen.js';
import { definePrimitive, node } from './registry.js';

definePrimitive({
  name: 'gather',
  gpujs: (n, [x, idx]) => {
    const axis = n.attrs.axis as number;
    const i = names('i', n.rank);
    const ir = idx.shape.length;
    const xIdx = [...i.slice(0, axis), 'j', ...i.slice(axis + ir)];
    const body = [
      decompose(n.shape),
      `const j = Math.min(Math.max(x1[${offsetOf(idx, i.slice(axis, axis + ir))}], 0.0), ${lit(x.shape[axis] - 1)});`,
      `return x0[${offsetOf(x, xIdx)}];`,
    ];
    return { source: kernelFn(2, body.join('\n  ')), inputs: [x, idx] };
  },
  vjp: (g, o, [x, idx]) => [scatterAdd(g, idx, o.attrs.axis as number, x.shape[o.attrs.axis as number]), null],
});

/**
 * Pick entries along `axis` by int32 `indices` (numpy.take): the output shape is
 * `x.shape[:axis] + indices.shape + x.shape[axis+1:]`. Embedding lookup is `gather(table, ids, 0)`.
 * @example `gather(tensor([[1, 2], [3, 4], [5, 6]]), tensor(new Int32Array([2, 0])), 0)` → [[5, 6], [1, 2]]
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const ax = normalizeAxis('gather', axis, x.shape);
  if (indices.dtype !== 'int32') throw new TensorError('gather', `indices must be int32, got ${indices.dtype} (shape ${fmtShape(indices.shape)})`);
  if (x.shape[ax] === 0 && indices.size > 0) throw new TensorError('gather', `cannot take from an empty axis ${ax} of ${fmtShape(x.shape)}`);
  return node('gather', [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype, [x, indices], { axis: ax });
}

definePrimitive({
  name: 'scatterAdd',
  gpujs: (n, [u, idx]) => {
    const axis = n.attrs.axis as number;
    const ir = idx.shape.length;
    const i = names('i', n.rank);
    const p = names('p', ir);
    const uIdx = [...i.slice(0, axis), ...p, ...i.slice(axis + 1)];
    const body = [
      decompose(n.shape),
      'let s = 0.0;',
      ...p.map((name, k) => `for (let ${name} = 0; ${name} < ${idx.shape[k]}; ${name}++) {`),
      `const j = Math.min(Math.max(x1[${offsetOf(idx, p)}], 0.0), ${lit(n.shape[axis] - 1)});`,
      `const v = x0[${offsetOf(u, uIdx)}];`,
      `if (j === ${i[axis]}) {\n  s = s + v;\n  }`,
      ...p.map(() => '}'),
      'return s;',
    ];
    return { source: kernelFn(2, body.join('\n  ')), inputs: [u, idx] };
  },
  vjp: (g, o, [, idx]) => [gather(g, idx, o.attrs.axis as number), null],
});

/**
 * The transpose of `gather`: adds each slice of `updates` into row `indices[…]` of a zero tensor whose
 * `axis` has `dimSize` entries (repeated indices accumulate).
 * @example `scatterAdd(tensor([1, 2, 3]), tensor(new Int32Array([0, 2, 0])), 0, 3)` → [4, 0, 2]
 */
export function scatterAdd(updates: Tensor, indices: Tensor, axis: number, dimSize: number): Tensor {
  if (indices.dtype !== 'int32') throw new TensorError('scatterAdd', `indices must be int32, got ${indices.dtype}`);
  const ax = normalizeAxis('scatterAdd', axis, updates.rank - indices.rank + 1);
  const covered = updates.shape.slice(ax, ax + indices.rank);
  if (!shapesEqual(covered, indices.shape)) {
    throw new TensorError('scatterAdd', `updates ${fmtShape(updates.shape)} do not carry indices ${fmtShape(indices.shape)} at axis ${ax}`);
  }
  if (!Number.isInteger(dimSize) || dimSize < 0) throw new TensorError('scatterAdd', `dimSize must be a non-negative integer, got ${dimSize}`);
  const shape = [...updates.shape.slice(0, ax), dimSize, ...updates.shape.slice(ax + indices.rank)];
  return node('scatterAdd', shape, updates.dtype, [updates, indices], { axis: ax });
}
