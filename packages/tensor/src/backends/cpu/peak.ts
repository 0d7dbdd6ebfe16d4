/**
 * The measured ceiling of the WebAssembly GEMM: its microkernel (MR×NR register tile, f32x4 mul + add)
 * looping over L1-resident panels, on one thread (`webasm`) or on every thread of the pool at once
 * (`threads`). Benchmarks report matmul GFLOPS as a fraction of it.
 */
import { fastContext } from './context.js';
import { JobList } from './runtime.js';

/** GFLOPS of the GEMM microkernel alone (best of a few runs of ~`ms` milliseconds each). */
export async function simdPeakGflops(backend: 'webasm' | 'threads' = 'webasm', ms = 200): Promise<number> {
  const ctx = await fastContext(backend);
  if (!ctx?.rt) return NaN;
  const rt = ctx.rt;
  const { MR, NV } = rt.kernels.gemm;
  const NR = 4 * NV;
  const kc = 256;
  const threads = ctx.pool ? ctx.threads : 1;
  const per = MR * kc + kc * NR + MR * NR + 64;
  rt.reset();
  const base = rt.alloc(per * threads);
  rt.f32.fill(0.5, base >> 2, (base >> 2) + per * threads);
  const flopsPerIter = 2 * MR * NR * kc;
  const run = (iters: number): number => {
    const list = new JobList();
    list.stride = 4 * per;
    for (let t = 0; t < threads; t++) list.add('mk_loop', rt, [base, base + 4 * MR * kc, base + 4 * (MR * kc + kc * NR), kc, iters], [1, 2, 3]);
    const t0 = performance.now();
    if (ctx.pool && threads > 1) ctx.pool.run(list);
    else for (const [, ...a] of list.jobs) (rt.kernels.fns.mk_loop as (...x: number[]) => void)(...a);
    return performance.now() - t0;
  };
  run(1000); // tier up
  let iters = 2000;
  while (run(iters) < ms / 4 && iters < 1e8) iters *= 2;
  iters = Math.max(1, Math.round((iters * ms) / Math.max(run(iters), 1e-3)));
  let best = Infinity;
  for (let r = 0; r < 3; r++) best = Math.min(best, run(iters));
  return (threads * iters * flopsPerIter) / best / 1e6;
}
