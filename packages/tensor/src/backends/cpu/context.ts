/**
 * The context of the CPU backend's kernels (backends/cpu/): the WebAssembly runtime on webasm /
 * threads, the thread pool on threads. A primitive may have, besides its gpu.js kernel, a kernel in the
 * CPU backend's table; the backend runs it when present and enabled ("fast paths"). The conformance
 * suite checks every one against the float64 reference, and `fastpaths.test.ts` against the gpu.js
 * kernel itself (with fast paths switched off).
 *
 * `LLM_MODULES_FAST=0` (or `setFastPaths(false)`) turns them all off; `LLM_MODULES_THREADS` sets the
 * thread count of the `threads` backend (default: the machine's cores, at most 8).
 */
import type { BackendName } from '../../backend.js';
import { cpuCores } from '../../platform/worker.js';
import { Pool, ScratchExhausted, getRuntime, wasmKernelsSupported, type Runtime } from './runtime.js';

export interface FastContext {
  readonly backend: BackendName;
  /** the wasm runtime, when this backend runs the WebAssembly kernels (webasm, threads) */
  readonly rt: Runtime | undefined;
  /** the thread pool (threads backend, started) */
  readonly pool: Pool | undefined;
  /** threads available to split work over (1 on cpu/webasm) */
  readonly threads: number;
}


const env = (name: string): string | undefined => (typeof process !== 'undefined' ? process.env?.[name] : undefined);

let enabled = env('LLM_MODULES_FAST') !== '0';

/** Switch the hand-tuned CPU paths on or off (for tests and benchmarks); returns the previous setting. */
export function setFastPaths(on: boolean): boolean {
  const prev = enabled;
  enabled = on;
  return prev;
}
export const fastPathsEnabled = (): boolean => enabled;

let wasmOk: boolean | undefined;
let pool: Pool | undefined;
let poolReady: Promise<Pool | undefined> | undefined;

async function threadCount(): Promise<number> {
  const fromEnv = Number(env('LLM_MODULES_THREADS'));
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return Math.min(fromEnv, 64);
  const hc = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  const cores = hc ?? (await cpuCores()) ?? 2;
  return Math.max(1, Math.min(cores, 8));
}

/** The context for a backend; starts the thread pool on first use by `threads`. */
export async function fastContext(backend: BackendName): Promise<FastContext | undefined> {
  if (!enabled) return undefined;
  if (backend === 'cpu') return { backend, rt: undefined, pool: undefined, threads: 1 };
  if (backend !== 'webasm' && backend !== 'threads') return undefined;
  wasmOk ??= await wasmKernelsSupported();
  if (!wasmOk) return { backend, rt: undefined, pool: undefined, threads: 1 };
  const rt = getRuntime();
  if (backend === 'webasm') return { backend, rt, pool: undefined, threads: 1 };
  if (!pool?.ready) {
    poolReady ??= (async () => {
      const p = new Pool(rt, await threadCount());
      pool = p;
      return (await p.start()) ? p : undefined;
    })();
    const p = await poolReady;
    if (!p) return { backend, rt, pool: undefined, threads: 1 };
  }
  return { backend, rt, pool, threads: pool!.threads };
}

/** Stop the worker threads (they are unref'd, so a process exits without this). */
export function shutdownThreads(): void {
  pool?.destroy();
  pool = undefined;
  poolReady = undefined;
}

/**
 * Run a fast path's wasm version when the backend has the runtime; undefined (run the JavaScript one) without
 * it or when the op's scratch would pass the cap.
 */
export function tryWasm(ctx: FastContext, run: (rt: Runtime) => Float32Array | undefined): Float32Array | undefined {
  if (!ctx.rt) return undefined;
  try {
    return run(ctx.rt);
  } catch (e) {
    if (e instanceof ScratchExhausted) return undefined;
    throw e;
  }
}
