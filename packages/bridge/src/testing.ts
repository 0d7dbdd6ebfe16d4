/**
 * @llm-modules/bridge/testing — `describeBridgeConformance(def)`: the suite every bridge variant passes
 * (for vitest): output shapes for several teacher/student widths, gradients against float64 finite differences
 * (`checkGrads`), the future-token leak probe and incremental decoding = full forward (unless the variant declares
 * itself non-causal), determinism under a fixed key, distinct
 * parameters of one shape starting apart, save/load round trip, and its parameter count.
 * The checks are also exported as plain async functions that throw on failure.
 *
 * @example
 * ```ts
 * import { describeBridgeConformance } from '@llm-modules/bridge/testing';
 * import { lowRank } from './low-rank.js';
 * describeBridgeConformance(lowRank, { options: { rank: 2 } });
 * ```
 */
import { describe, expect, it } from 'vitest';
import { withBackend, type BackendName } from '@llm-modules/tensor';
import { defineBridge, isCausal, resolveOptions } from './define.js';
import type { BridgeDefinition } from './types.js';
import {
  bridgeParameterCount,
  checkBridgeGradients,
  checkDeterminism,
  checkDistinctInit,
  checkIncrementalDecoding,
  checkNoFutureLeak,
  checkRoundTrip,
  checkShapes,
} from './testing/checks.js';

export {
  bridgeParameterCount,
  checkBridgeGradients,
  checkDeterminism,
  checkDistinctInit,
  checkIncrementalDecoding,
  checkNoFutureLeak,
  checkRoundTrip,
  checkShapes,
  probeBridgeLeak,
} from './testing/checks.js';
export { tinyStudent, tinyTeacher } from './testing/world.js';

export interface ConformanceOptions<O> {
  /** Option overrides for the suite's tiny models (e.g. `{ heads: 2 }`: widths are 8–16, 2 heads divide them). */
  options?: Partial<O>;
  /** Teacher → student widths of the shape checks (default 12 → 8 and 8 → 16). */
  sizes?: Array<{ teacher: number; student: number }>;
  /** Backend of the float32 checks (default `cpu`); gradients always run in float64 on `reference`. */
  backend?: BackendName;
  /** checkGrads tolerances (default atol 1e-6, rtol 1e-5). */
  atol?: number;
  rtol?: number;
}

/**
 * Register the conformance tests of a bridge variant (vitest). One line per variant:
 * `describeBridgeConformance(myBridge, { options: { heads: 2 } })`.
 */
export function describeBridgeConformance<O extends object>(def: BridgeDefinition<O>, opts: ConformanceOptions<O> = {}): void {
  const overrides = (opts.options ?? {}) as Record<string, unknown>;
  const sizes = opts.sizes ?? [{ teacher: 12, student: 8 }, { teacher: 8, student: 16 }];
  const on = (fn: () => Promise<void>) => () => withBackend(opts.backend ?? 'cpu', fn);
  const causal = isCausal(def, resolveOptions(def, opts.options));
  const count = bridgeParameterCount(def, overrides);

  describe(`bridge conformance: ${def.name}`, () => {
    it('is a valid definition with JSON-serialisable options', () => {
      const options = resolveOptions(def, opts.options);
      expect(() => defineBridge(def)).not.toThrow();
      expect(JSON.parse(JSON.stringify(options))).toEqual(options);
    });
    it.each(sizes)('output shapes, teacher $teacher → student $student (bridge alone, query window, composed)', ({ teacher, student }) =>
      on(() => checkShapes(def, overrides, teacher, student))(),
    );
    it(`reports its parameter count: ${count} (teacher 12 → student 8)`, () => expect(count).toBeGreaterThan(0));
    it('gradients of every bridge parameter match float64 finite differences (checkGrads, through the student)', () =>
      checkBridgeGradients(def, overrides, { atol: opts.atol, rtol: opts.rtol }));
    if (causal) {
      it('no future-token leak: changing teacher states after position i never moves outputs at ≤ i', on(() => checkNoFutureLeak(def, overrides)));
      it('incremental decoding (teacher KV cache, one teacher step per token) equals the full forward', on(() => checkIncrementalDecoding(def, overrides)));
    } else {
      it.skip(`declares itself non-causal: the leak probe and incremental = full do not apply`, () => {});
    }
    it('is deterministic under a fixed key (init, eval, and training with dropout)', on(() => checkDeterminism(def, overrides)));
    it('distinct parameters of the same shape do not start equal (one key per module)', on(() => checkDistinctInit(def, overrides)));
    it('save / load round trip: bridge folder → identical parameters and outputs', on(() => checkRoundTrip(def, overrides)));
  });
}
