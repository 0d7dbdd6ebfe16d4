/**
 * Expands GRAD_SPECS into fast-check properties: random shapes (with broadcasting where the op
 * broadcasts) and random values in each input's domain, gradients checked against central finite
 * differences in float64 (`checkGrads`), up to each row's order. Fixed seed by default; `FC_RUNS`
 * sets the number of runs per row and `FC_SEED` the seed. The rows with float32 tolerances also run
 * with their gradients on the float32 backends `GRAD_BACKENDS` names (comma-separated; default cpu,
 * e.g. `GRAD_BACKENDS=webgpu`); a backend named there must be available.
 */
import { describe, expect, it } from 'vitest';
import type { BackendName } from '@llm-modules/tensor';
import * as T from '@llm-modules/tensor';
import * as fc from 'fast-check';
import { arbTensor, checkGrads } from '../src/testing.js';
import { GRAD_SPECS, type GradSpec } from './grad-specs.js';

const RUNS = Number(process.env.FC_RUNS ?? 100);
const SEED = Number(process.env.FC_SEED ?? 20250218);
/** float32 gradients on the cpu backend compile kernels per shape: a quarter of the runs. */
const CPU_RUNS = Math.max(1, Math.round(RUNS / 4));
const F32_BACKENDS = (process.env.GRAD_BACKENDS ?? 'cpu').split(',').map((s) => s.trim() as BackendName);

function property(spec: GradSpec, options: { backend: BackendName }) {
  const inputs = spec.cases.chain((c) =>
    fc.tuple(
      fc.constant(c),
      fc.tuple(...c.shapes.map((shape, i) => arbTensor({ shape, domain: spec.domain[i], bound: (c.p as { bound?: number }).bound }))),
      fc.noBias(fc.integer({ min: 0, max: 2 ** 31 - 1 })),
    ),
  );
  const tol = options.backend === 'reference' ? spec.tol : spec.cpu!;
  return fc.asyncProperty(inputs, async ([c, xs, seed]) => {
    await checkGrads((...args: unknown[]) => spec.f(c.p, ...(args as never[])), xs, {
      order: spec.order,
      seed,
      backend: options.backend,
      ...tol,
    });
  });
}

describe('GRAD_SPECS: gradients match central differences (float64, reference backend)', () => {
  for (const spec of GRAD_SPECS) {
    it(`${spec.name} — arity ${spec.arity}, order ${spec.order}, ${RUNS} runs`, async () => {
      await fc.assert(property(spec, { backend: 'reference' }), { numRuns: RUNS, seed: SEED });
    });
  }
});

describe.each(F32_BACKENDS)('GRAD_SPECS: a few rows with gradients in float32 on the %s backend', (backend) => {
  it('is available', async () => {
    expect(await T.isBackendAvailable(backend)).toBe(true);
  });
  for (const spec of GRAD_SPECS.filter((s) => s.cpu)) {
    it(`${spec.name} — ${CPU_RUNS} runs`, async () => {
      await fc.assert(property(spec, { backend }), { numRuns: CPU_RUNS, seed: SEED });
    });
  }
});
