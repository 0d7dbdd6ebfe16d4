import type { Shape } from './shape.js';

/** Thrown when an op is built with bad arguments: wrong shapes, axes or dtypes. Raised at graph-build time. */
export class TensorError extends Error {
  override name = 'TensorError';
  constructor(readonly op: string, message: string) {
    super(`${op}: ${message}`);
  }
}

export const fmtShape = (s: Shape): string => `[${s.join(', ')}]`;
