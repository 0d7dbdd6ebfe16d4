/** `bfloat16Array`: where a loader reads bfloat16 weights (its own file: it asks the backend registry, which bf16.ts may not import). */
import { getBackend } from './backends/registry.js';
import { fastPathsEnabled } from './backends/cpu/context.js';
import { bankBFloat16Array } from './backends/cpu/banks.js';

/**
 * An array for `n` bfloat16 bit patterns, to fill and hand to `bfloat16Tensor` (a loader reads a weight straight
 * into it). On the CPU backend's WebAssembly modes (`webasm`, `threads`, the active backend) it lives in a weight
 * bank, where a decoding step's products read it in place (backends/cpu/banks.ts); elsewhere it is a plain
 * `Uint16Array`. Either way its contents start as zeros.
 *
 * @example
 * ```ts
 * import { bfloat16Array, bfloat16Tensor } from '@llm-modules/tensor';
 * const bits = bfloat16Array(4);
 * bits.set([0x3f80, 0x4000, 0x4040, 0x4080]); // 1, 2, 3, 4
 * console.log(await bfloat16Tensor(bits, [2, 2]).data()); // Float32Array [1, 2, 3, 4]
 * ```
 */
export function bfloat16Array(n: number): Uint16Array {
  const name = getBackend().name;
  const inBank = fastPathsEnabled() && (name === 'webasm' || name === 'threads') ? bankBFloat16Array(n) : undefined;
  return inBank ?? new Uint16Array(n);
}
