/** Kernels other than GEMM (fused attention, reductions, copies, LayerNorm), appended to the module after GEMM's. */
import type { Fn } from './emit.js';
import type { GemmConfig } from './gemm.js';
import { Fn as F, L } from './emit.js';
import { attentionFunctions } from '../../../ops/attention/wasm.js';
import { reduceFunctions } from './reduce.js';
import { copyFunctions } from './copy.js';
import { smallAttentionFunctions } from '../../../ops/attention/wasm-small.js';
import { layerNormFunctions } from '../../../ops/layer-norm/wasm.js';
import { bf16Functions } from './bf16.js';

/**
 * `mk_loop(pa, pb, pc, kc, iters)`: the full-tile microkernel `iters` times over the same L1-resident
 * panels: the throughput ceiling of the GEMM's inner loop (mul + add per f32x4 lane), for benchmarks.
 */
function microkernelLoop(cfg: GemmConfig, index: (name: string) => Fn): Fn {
  const f = new F('mk_loop', ['i32', 'i32', 'i32', 'i32', 'i32']);
  const [pa, pb, pc, kc, iters] = f.params;
  const i = f.local('i32');
  f.forRange(i, 0, L(iters), 1, () => {
    f.get(pa).get(kc).i32(2).i32Shl().i32(4).get(pb).get(pc).i32(4 * 4 * cfg.NV).get(kc).i32(1).call(index(`mk_row_${cfg.MR}`));
  });
  return f;
}

/**
 * Every function calls the others by handle (`index` gives the GEMM's by name), so this list is a plain
 * concatenation; encodeModule resolves the indices.
 */
export function extraFunctions(cfg: GemmConfig, index: (name: string) => Fn): Fn[] {
  return [
    ...attentionFunctions(cfg, index),
    ...smallAttentionFunctions(index, cfg.fma),
    microkernelLoop(cfg, index),
    ...reduceFunctions(),
    ...copyFunctions(),
    ...layerNormFunctions(),
    ...bf16Functions(),
  ];
}
