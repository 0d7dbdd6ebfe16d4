/**
 * Relaxed SIMD's `f32x4.relaxed_madd` (a·b + c, one fused multiply-add where the CPU has FMA): the GEMM
 * microkernels use it when the engine compiles it. It halves the arithmetic instructions of the inner
 * loop and frees the register a separate product needed, so the register tile grows from 5×8 to 6×8.
 * Measured on this machine (matmul, one thread): 1024³ 45.0 → 53.8 GFLOPS, [512,64]@[64,512] 44 → 52.
 *
 * Relaxed SIMD is part of WebAssembly 3.0 and on by default from V8 11.4 (Chrome 114, Node 22). Node 20's
 * V8 (11.3) has it behind `--experimental-wasm-relaxed-simd`, which the process can still turn on before
 * the kernels are compiled (`v8.setFlagsFromString`); that is done here, once, unless
 * `LLM_MODULES_RELAXED_SIMD=0` asks for the plain mul + add kernels.
 *
 * Results stay deterministic on a machine (every thread runs the same compiled code), but a fused
 * multiply-add rounds once where mul + add rounds twice, so values can differ from the plain kernels in
 * the last bits, as they may between machines with and without FMA.
 */

/** The smallest module that uses `f32x4.relaxed_madd`: (v128, v128, v128) → v128. */
const PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type section: (v128 v128 v128) → v128
  0x03, 0x02, 0x01, 0x00, // function section
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // code: relaxed_madd
]);

let available: boolean | undefined;

const validates = (): boolean => {
  try {
    return WebAssembly.validate(PROBE);
  } catch {
    return false;
  }
};

interface NodeV8 {
  setFlagsFromString?(flags: string): void;
}

/** Whether the kernels may use relaxed SIMD (turning it on in Node 20 the first time it is asked). */
export function relaxedSimd(): boolean {
  if (available !== undefined) return available;
  const env = typeof process !== 'undefined' ? process.env?.LLM_MODULES_RELAXED_SIMD : undefined;
  if (env === '0') return (available = false);
  if (typeof WebAssembly === 'undefined') return (available = false);
  if (validates()) return (available = true);
  // Node 20: the feature exists behind a V8 flag (getBuiltinModule: Node ≥ 20.16)
  try {
    const getBuiltin = typeof process !== 'undefined' ? (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule : undefined;
    const v8 = getBuiltin?.call(process, 'node:v8') as NodeV8 | undefined;
    v8?.setFlagsFromString?.('--experimental-wasm-relaxed-simd');
  } catch {
    return (available = false); // a runtime that has the hook but refuses it (another engine's Node compatibility layer)
  }
  return (available = validates());
}
