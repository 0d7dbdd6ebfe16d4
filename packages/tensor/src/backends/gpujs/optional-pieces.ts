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

type DawnGpu = { requestAdapter(options?: object): Promise<unknown>; getPreferredCanvasFormat?(): string; wgslLanguageFeatures?: unknown };
type DawnModule = { create(flags: string[]): DawnGpu; globals?: Record<string, unknown> };
/** One way to ask Dawn for an adapter: its instance flags and the adapter options. */
export interface DawnAttempt {
  readonly name: string;
  readonly flags: string[];
  readonly options: { featureLevel?: 'compatibility' };
}

const env = (): Record<string, string | undefined> | undefined => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;

/**
 * The Dawn backends to try, in order. `LLM_MODULES_DAWN_BACKEND` (vulkan, opengles, metal, d3d12, …)
 * names the only one; unset, Dawn's own choice (Vulkan, Metal or D3D12 on a machine with a GPU) and then
 * OpenGL ES (through EGL: Mesa's llvmpipe on a server without a GPU). OpenGL ES offers only WebGPU's
 * compatibility feature level, which gpu.js does not ask for, so it is part of the attempt.
 * @internal
 */
export function dawnAttempts(choice: string | undefined = env()?.LLM_MODULES_DAWN_BACKEND): DawnAttempt[] {
  const gles: DawnAttempt = { name: 'opengles', flags: ['backend=opengles'], options: { featureLevel: 'compatibility' } };
  if (!choice || choice === 'default') return [{ name: 'default', flags: [], options: {} }, gles];
  if (choice === 'opengles' || choice === 'opengl') return [{ ...gles, name: choice, flags: [`backend=${choice}`] }];
  return [{ name: choice, flags: [`backend=${choice}`], options: {} }];
}

/**
 * Why webgpu cannot run here, or undefined when `navigator.gpu` exists. In Node without one, loads the
 * optional Dawn package through `load` (the real `import('webgpu')` unless a test passes another), finds
 * an adapter (see `dawnAttempts`) and installs a `navigator.gpu` that asks for that kind of adapter, and
 * Dawn's WebGPU globals.
 */
export async function webGpuProblem(load: () => Promise<unknown> = importDawn, attempts: DawnAttempt[] = dawnAttempts()): Promise<string | undefined> {
  if (navigatorGpu()) return undefined;
  if (!isNode()) return 'backend webgpu: this environment has no WebGPU (navigator.gpu is missing)';
  const vars = env();
  // Mesa's EGL without a display server: read by the native library when Dawn opens OpenGL ES
  if (vars && (globalThis as { process?: { platform?: string } }).process?.platform === 'linux' && !vars.EGL_PLATFORM) vars.EGL_PLATFORM = 'surfaceless';
  let dawn: DawnModule;
  try {
    dawn = (await load()) as DawnModule;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    // the package itself is missing, not something it needs (that would name another module)
    const missing = (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && /Cannot find (package|module) 'webgpu'/.test(err.message ?? '');
    if (missing) return 'backend webgpu needs the optional package `webgpu` (Dawn): npm install webgpu';
    return `backend webgpu: the optional package \`webgpu\` did not load: ${firstLine(err.message ?? e)}`;
  }
  let startError: string | undefined;
  for (const attempt of attempts) {
    let gpu: DawnGpu;
    try {
      gpu = dawn.create(attempt.flags);
    } catch (e) {
      startError ??= firstLine((e as Error)?.message ?? e);
      continue;
    }
    const adapter = await gpu.requestAdapter(attempt.options).catch(() => null);
    if (!adapter) continue;
    if (dawn.globals) Object.assign(globalThis, dawn.globals);
    const g = globalThis as unknown as { navigator?: object };
    if (!g.navigator) g.navigator = {};
    Object.defineProperty(g.navigator, 'gpu', { value: forAttempt(gpu, attempt), configurable: true });
    return undefined;
  }
  if (startError) return `backend webgpu: the optional package \`webgpu\` did not start: ${startError}`;
  const tried = attempts.map((a) => a.name).join(', ');
  return `backend webgpu: Dawn found no adapter (tried ${tried}); choose one with LLM_MODULES_DAWN_BACKEND, or without a GPU on Linux install Mesa's EGL (libegl1 libegl-mesa0 libgl1-mesa-dri)`;
}

const firstLine = (m: unknown): string => String(m).split('\n')[0];

/** Dawn's `navigator.gpu`, with the attempt's adapter options as defaults (gpu.js passes none). */
function forAttempt(gpu: DawnGpu, attempt: DawnAttempt): DawnGpu {
  if (!attempt.options.featureLevel) return gpu;
  return {
    requestAdapter: (options?: object) => gpu.requestAdapter({ ...attempt.options, ...options }),
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat?.() ?? 'rgba8unorm',
    get wgslLanguageFeatures() {
      return gpu.wgslLanguageFeatures;
    },
  };
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

/**
 * @internal The most float32 elements one WebGPU storage buffer binds here: the adapter's
 * `maxStorageBufferBindingSize` and `maxBufferSize` (what gpu.js asks its device for), in elements;
 * Infinity where there is no WebGPU adapter to ask.
 */
export async function webGpuElementLimit(): Promise<number> {
  const gpu = navigatorGpu() as { requestAdapter(): Promise<{ limits?: Record<string, number> } | null> } | undefined;
  const limits = (await gpu?.requestAdapter().catch(() => null))?.limits;
  if (!limits) return Infinity;
  return Math.floor(Math.min(limits.maxStorageBufferBindingSize ?? Infinity, limits.maxBufferSize ?? Infinity) / 4);
}

/**
 * @internal `LLM_MODULES_GPU_MAX_ELEMENTS`, a lower element limit for tiling matmul and gather on gpu.js
 * device backends (tests exercise the tiles on small shapes with it); Infinity when unset.
 */
export function forcedElementLimit(): number {
  const v = Number(env()?.LLM_MODULES_GPU_MAX_ELEMENTS);
  return Number.isFinite(v) && v > 0 ? v : Infinity;
}
