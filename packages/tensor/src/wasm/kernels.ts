/** Kernels other than GEMM (softmax rows for fused attention, …), appended to the module after GEMM's. */
import type { Fn } from './emit.js';

export function extraFunctions(_base: number): Fn[] {
  return [];
}
