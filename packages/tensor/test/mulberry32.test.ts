/** mulberry32: the one seeded host generator (autograd's testing helpers, the tensor tests and the demo use it). */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/index.js';

describe('mulberry32', () => {
  it('gives the reference stream (values from an independent Python port of the algorithm)', () => {
    const r = mulberry32(42);
    expect([r(), r(), r()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    const z = mulberry32(0);
    expect([z(), z(), z()]).toEqual([0.26642920868471265, 0.0003297457005828619, 0.2232720274478197]);
  });
});
