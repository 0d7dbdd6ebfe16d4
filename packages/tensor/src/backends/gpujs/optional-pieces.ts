/**
 * The optional packages behind two gpu.js backends. Neither is a dependency of @llm-modules/tensor, so a
 * default install stays light and compiles nothing:
 *
 * - `headlessgl` needs `gl` (headless WebGL for Node: a native module, built from C++ when no prebuilt
 *   binary can be fetched) and a display (`xvfb-run -a` on a server). gpu.js itself tries `require('gl')`.
 * - `webgpu` in Node needs `webgpu` (Dawn): loaded here on first use, it provides `navigator.gpu`, which
 *   is what gpu.js's webgpu mode talks to (browsers have their own).
 *
 * When a piece is missing, the backend fails with one line naming the package to install, instead of
 * gpu.js's "A requested mode of … is not supported".
 */
import gpujs from 'gpu.js';
import type { BackendName } from '../../backend.js';
import { TensorError } from '../../errors.js';

type NodeRequire = { resolve(id: string): string };
type DawnModule = { create(flags: string[]): unknown; globals?: Record<string, unknown> };

/** Node's require for resolving from this file, when the runtime offers it synchronously. */
function nodeRequire(): NodeRequire | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const mod = proc?.getBuiltinModule?.('node:module') as { createRequire(url: string): NodeRequire } | undefined;
  return mod?.createRequire(import.meta.url);
}

/** true / false: whether `name` resolves from here; undefined when this runtime cannot tell. */
function installed(name: string): boolean | undefined {
  const req = nodeRequire();
  if (!req) return undefined;
  try {
    req.resolve(name);
    return true;
  } catch {
    return false;
  }
}

const isNode = (): boolean => typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
const navigatorGpu = (): unknown => (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;

/** Why headlessgl cannot run here, or undefined when it can. */
export function headlessGlProblem(isInstalled: boolean | undefined = installed('gl')): string | undefined {
  if ((gpujs.GPU as unknown as { isHeadlessGLSupported?: boolean }).isHeadlessGLSupported) return undefined;
  if (isInstalled === false) return 'backend headlessgl needs the optional package `gl` (native; run under a display, e.g. xvfb-run -a): npm install gl';
  return 'backend headlessgl does not work here: the optional package `gl` did not load (no native build?) or found no display (run under xvfb-run -a)';
}

/**
 * Why webgpu cannot run here, or undefined when `navigator.gpu` exists. In Node without one, loads the
 * optional Dawn package through `load` (the real `import('webgpu')` unless a test passes another) and
 * installs its `navigator.gpu` and WebGPU globals.
 */
export async function webGpuProblem(load: () => Promise<unknown> = importDawn): Promise<string | undefined> {
  if (navigatorGpu()) return undefined;
  if (!isNode()) return 'backend webgpu: this environment has no WebGPU (navigator.gpu is missing)';
  let dawn: DawnModule;
  try {
    dawn = (await load()) as DawnModule;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    // the package itself is missing, not something it needs (that would name another module)
    const missing = (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && /Cannot find (package|module) 'webgpu'/.test(err.message ?? '');
    if (missing) return 'backend webgpu needs the optional package `webgpu` (Dawn): npm install webgpu';
    return `backend webgpu: the optional package \`webgpu\` did not load: ${String(err.message ?? e).split('\n')[0]}`;
  }
  let gpu: unknown;
  try {
    gpu = dawn.create([]);
  } catch (e) {
    return `backend webgpu: the optional package \`webgpu\` did not start: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
  }
  const g = globalThis as unknown as { navigator?: object };
  if (dawn.globals) Object.assign(globalThis, dawn.globals);
  if (!g.navigator) g.navigator = {};
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  return undefined;
}

// A variable specifier: bundlers leave it alone and nothing loads Dawn until webgpu is asked for.
const DAWN = 'webgpu';
const importDawn = (): Promise<unknown> => import(/* @vite-ignore */ DAWN);

let webGpuOnce: Promise<string | undefined> | undefined;

/** @internal Why backend `name` lacks an optional piece here (one line), or undefined. Dawn is loaded once. */
export async function optionalPiecesProblem(name: BackendName): Promise<string | undefined> {
  if (name === 'headlessgl') return headlessGlProblem();
  if (name === 'webgpu') return (webGpuOnce ??= webGpuProblem());
  return undefined;
}

/** @internal Resolves when backend `name`'s optional pieces are here; else rejects with a one-line TensorError. */
export async function ensureOptionalPieces(name: BackendName): Promise<void> {
  const problem = await optionalPiecesProblem(name);
  if (problem) throw new TensorError('evaluate', problem);
}
