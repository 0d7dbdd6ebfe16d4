/**
 * Completeness: every registered primitive has a gradient rule or an explicit non-differentiable mark,
 * and every differentiable one has a GRAD_SPECS row that really exercises it. Sensitivity: each row
 * catches a 1% error in its rule, and the broadcasting rows catch a cotangent reduced over broadcast
 * axes by mean instead of sum (so the generated shapes do broadcast).
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as fc from 'fast-check';
import * as T from '@llm-modules/tensor';
import type { Primitive, Tensor, VjpRule } from '@llm-modules/tensor';
import '../src/index.js'; // registers autograd's own primitives
import { arbTensor, checkGrads } from '../src/testing.js';
import { GRAD_SPECS, type GradSpec } from './grad-specs.js';

const inputsOf = (spec: GradSpec) =>
  spec.cases.chain((c) => fc.tuple(fc.constant(c), fc.tuple(...c.shapes.map((shape, i) => arbTensor({ shape, domain: spec.domain[i], bound: (c.p as { bound?: number }).bound })))));
const leaves = (out: unknown): Tensor[] => (T.isTensor(out) ? [out] : Array.isArray(out) ? out.flatMap(leaves) : []);

const differentiable = () => [...T.PRIMITIVES.values()].filter((p) => !p.nonDifferentiable);

describe('completeness', () => {
  it('every registered primitive has a vjp rule or a nonDifferentiable mark (not both)', () => {
    const missing = [...T.PRIMITIVES.values()].filter((p) => !p.vjp && !p.nonDifferentiable).map((p) => p.name);
    const both = [...T.PRIMITIVES.values()].filter((p) => p.vjp && p.nonDifferentiable).map((p) => p.name);
    expect(missing, 'primitives with neither a gradient rule nor a nonDifferentiable reason').toEqual([]);
    expect(both, 'primitives with a rule and a nonDifferentiable mark').toEqual([]);
  });

  it('every differentiable primitive has a GRAD_SPECS row', () => {
    const covered = new Set(GRAD_SPECS.flatMap((s) => s.covers));
    const uncovered = differentiable().map((p) => p.name).filter((n) => !covered.has(n));
    expect(uncovered, 'differentiable primitives without a GRAD_SPECS row').toEqual([]);
    const unknown = [...covered].filter((n) => !T.PRIMITIVES.has(n));
    expect(unknown, 'GRAD_SPECS rows naming unregistered primitives').toEqual([]);
  });

  it('the composites required by the design have rows', () => {
    const names = GRAD_SPECS.map((s) => s.name).join('\n');
    for (const c of ['softmax', 'logSoftmax', 'logsumexp', 'mean', 'LayerNorm', 'RMSNorm', 'GELU (erf)', 'GELU (tanh)', 'cross-entropy (ignore index)', 'attention (causal', 'attention (padding', 'matmul (broadcast batch', 'embedding', 'gather', 'slice (steps, negative)', 'pad', 'concat', 'permute']) {
      expect(names).toContain(c);
    }
  });

  it("each primitive row's function really builds the primitive it covers (in most generated cases)", () => {
    for (const spec of GRAD_SPECS.filter((s) => s.covers.length)) {
      let hits = 0;
      for (const [c, xs] of fc.sample(inputsOf(spec), { numRuns: 20, seed: 1 })) {
        const ops = new Set<string>();
        const stack = leaves(spec.f(c.p, ...xs));
        while (stack.length) {
          const t = stack.pop()!;
          ops.add(t.op);
          stack.push(...t.inputs);
        }
        if (spec.covers.every((name) => ops.has(name))) hits++;
      }
      expect(hits, `${spec.name} builds ${spec.covers.join(', ')}`).toBeGreaterThanOrEqual(10);
    }
  });
});

/** Swap a primitive's rule for the duration of one test. */
const originals = new Map<string, Primitive>();
function mutate(name: string, wrap: (rule: VjpRule) => VjpRule): void {
  const p = T.PRIMITIVES.get(name)!;
  originals.set(name, p);
  T.PRIMITIVES.set(name, { ...p, vjp: wrap(p.vjp!) });
}
afterEach(() => {
  for (const [name, p] of originals) T.PRIMITIVES.set(name, p);
  originals.clear();
});

/** Does the row's property fail within its usual number of runs? */
async function rowFails(spec: GradSpec, runs = 25): Promise<boolean> {
  const prop = fc.asyncProperty(inputsOf(spec), async ([c, xs]) => {
    await checkGrads((...a: unknown[]) => spec.f(c.p, ...(a as Tensor[])), xs, { ...spec.tol, order: 1 });
  });
  const result = await fc.check(prop, { numRuns: runs, seed: 7, endOnFailure: true });
  // Only a gradient mismatch counts, not some other error.
  if (result.failed) expect(String((result.errorInstance as Error)?.message)).toMatch(/^checkGrads \(order 1\)/);
  return result.failed;
}

describe('sensitivity of the GRAD_SPECS checks', () => {
  it('control: the unmutated rows pass the same check', async () => {
    for (const spec of GRAD_SPECS.filter((s) => s.covers.length)) expect(await rowFails(spec), spec.name).toBe(false);
  });

  for (const spec of GRAD_SPECS.filter((s) => s.covers.length)) {
    it(`${spec.name}: a rule off by 1% is caught`, async () => {
      for (const name of spec.covers) mutate(name, (rule) => (g, n, ins) => rule(g, n, ins).map((c) => c && T.mul(c, 1.01)));
      expect(await rowFails(spec)).toBe(true);
    });
  }

  const broadcasting = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'where', 'matmul', 'broadcastTo'];
  for (const name of broadcasting) {
    it(`${name}: averaging instead of summing over broadcast axes is caught`, async () => {
      // How many output elements each input element was broadcast to (batch dims only for matmul).
      const copies = (n: Tensor, x: Tensor) => (name === 'matmul' ? T.sizeOf(n.shape.slice(0, -2)) / T.sizeOf(x.shape.slice(0, -2)) : n.size / x.size);
      mutate(name, (rule) => (g, n, ins) => rule(g, n, ins).map((c, k) => c && (n.size ? T.mul(c, 1 / copies(n, ins[k])) : c)));
      const spec = GRAD_SPECS.find((s) => s.covers.includes(name))!;
      expect(await rowFails(spec)).toBe(true);
    });
  }
});
