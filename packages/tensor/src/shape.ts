import { TensorError, fmtShape } from './errors.js';

export type Shape = readonly number[];

export const sizeOf = (shape: Shape): number => {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
};

/** C-order (row-major) strides of a contiguous array. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export const shapesEqual = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

export function checkShape(op: string, shape: Shape): Shape {
  if (!Array.isArray(shape)) throw new TensorError(op, `shape must be an array of integers, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new TensorError(op, `invalid shape ${fmtShape(shape)}: dims must be non-negative integers`);
  }
  return shape.slice();
}

/** NumPy broadcasting of any number of shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw new TensorError(op, `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together (dim ${i - s.length}: ${out[o]} vs ${d})`);
      }
    }
  }
  return out;
}

/** Normalise one axis (negative counts from the end) against a shape (or a bare rank). */
export function normalizeAxis(op: string, axis: number, shapeOrRank: Shape | number): number {
  const rank = typeof shapeOrRank === 'number' ? shapeOrRank : shapeOrRank.length;
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    const where = typeof shapeOrRank === 'number' ? `rank ${rank}` : `shape ${fmtShape(shapeOrRank)}`;
    throw new TensorError(op, `axis ${axis} is out of range for a tensor of ${where}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalise a list of axes (undefined = all), sorted and unique. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, shape: Shape): number[] {
  if (axes === undefined) return Array.from({ length: shape.length }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normalizeAxis(op, a, shape));
  if (new Set(out).size !== out.length) throw new TensorError(op, `repeated axis in [${list.join(', ')}] for shape ${fmtShape(shape)}`);
  return out.sort((a, b) => a - b);
}
