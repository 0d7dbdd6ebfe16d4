/**
 * @llm-modules/autograd/testing — gradient checks and fast-check arbitraries for property-based
 * gradient tests (needs the `fast-check` peer dependency).
 *
 * @example
 * ```ts
 * import fc from 'fast-check';
 * import { arbBroadcastableShapes, arbTensor, checkGrads } from '@llm-modules/autograd/testing';
 * import { mul } from '@llm-modules/tensor';
 * await fc.assert(
 *   fc.asyncProperty(
 *     arbBroadcastableShapes().chain(([a, b]) => fc.tuple(arbTensor({ shape: a }), arbTensor({ shape: b }))),
 *     async ([a, b]) => void (await checkGrads(mul, [a, b], { order: 2 })),
 *   ),
 * );
 * ```
 */
export { checkGrads, type CheckGradsOptions, type CheckGradsResult } from './testing/check.js';
export {
  arbShape,
  arbBroadcastableShapes,
  arbTensor,
  makeTensor,
  domainValues,
  type Domain,
  type ValueDomain,
  type ShapeConstraints,
  type TensorConstraints,
} from './testing/arbitraries.js';
export { mulberry32 } from './testing/random.js';
