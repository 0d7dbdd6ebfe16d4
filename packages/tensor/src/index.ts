/**
 * @llm-modules/tensor — a lazy, immutable tensor graph whose primitives are gpu.js kernels.
 *
 * @example
 * ```ts
 * import { tensor, matmul, softmax } from '@llm-modules/tensor';
 * const x = tensor([[1, 2], [3, 4]]);
 * const y = softmax(matmul(x, x), -1);
 * console.log(await y.array());
 * ```
 */
export * from './dtype.js';
export { Tensor, isTensor, type NestedArray, type Attrs } from './tensor.js';
export { TensorError } from './errors.js';
export { type Shape, sizeOf, broadcastShapes } from './shape.js';
export { tensor, zeros, ones, full, arange, type TensorLike } from './creation.js';
export { bfloat16Tensor, isBFloat16Resident, storageBytes } from './bf16.js';
export { bfloat16Array } from './bf16-array.js';
export { neg, exp, log, sqrt, rsqrt, tanh, sigmoid, erf, abs, sin, cos, reciprocal, stopGradient, sign } from './primitives/unary.js';
export { add, sub, mul, div, pow, maximum, minimum, equal, notEqual, less, lessEqual, greater, greaterEqual, where, cast, asTensor, type TensorOrNumber } from './primitives/binary.js';
export { sum, max, argmax, sumToShape, type Axes } from './primitives/reduce.js';
export { reshape, permute, transpose, broadcastTo, slice, pad, concat, expandDims, squeeze } from './primitives/movement.js';
// the basic primitives' gradient rules that call other primitive files' builders (kept apart: no import cycle)
import './primitives/basic-rules.js';
export { gather, scatterAdd } from './primitives/indexing.js';
export { matmul } from './primitives/matmul.js';
export { fusedAttention, attentionReference, type AttentionOptions } from './ops/attention/primitive.js';
export { softmaxCrossEntropy, softmaxCrossEntropyGrad, softmaxCrossEntropyReference } from './ops/softmax-cross-entropy/primitive.js';
export { layerNorm, layerNormGrad, layerNormReference } from './ops/layer-norm/primitive.js';
export { geluTanh, geluTanhGrad } from './primitives/gelu.js';
export { mean, softmax, logSoftmax, logsumexp, relu } from './composites.js';
export { prngKey, splitKey, foldIn, randomUniform, randomNormal, randomBits, mulberry32, type PRNGKey } from './random.js';
export { evaluate, readFloat64 } from './evaluate.js';
export { profileReport, profiling, resetProfile, setProfiling } from './profile.js';
export { donate, liveStorageCount } from './memory.js';
export { setBackend, getBackend, initBackend, listBackends, isBackendAvailable, withBackend, registerBackend, BACKEND_NAMES } from './backends/registry.js';
export type { Backend, BackendName, BuiltinBackendName, FusedOp, Kernel, KernelTable, Storage, View } from './backend.js';
export { PRIMITIVES, definePrimitive, node, type Primitive, type VjpRule } from './primitives/registry.js';
export { memoryStats, kernelStats } from './backend.js';
export { setFusion } from './fusion/plan.js';
export { setFastPaths, shutdownThreads } from './backends/cpu/context.js';
export { simdPeakGflops } from './backends/cpu/peak.js';
