/**
 * Backend selection and the plug-in point. Each backend is one `registerBackend` line below (or in a
 * package of its own): a name, a factory called on first use, and a probe saying whether it works here.
 * `setBackend(name)` or the `LLM_MODULES_BACKEND` environment variable choose one; otherwise the first
 * that works in the default order (measured fastest first on a CPU-only Node machine; browsers with
 * WebGPU/WebGL try those first).
 */
import type { Backend, BackendName } from '../backend.js';
import { TensorError } from '../errors.js';
import { CpuBackend } from './cpu/backend.js';
import { GpuJsBackend, probeGpuJsMode } from './gpujs/backend.js';
import { ReferenceBackend } from './reference/backend.js';

interface Registration {
  readonly factory: () => Backend;
  readonly probe: () => Promise<boolean>;
}

const registrations = new Map<BackendName, Registration>();
const instances = new Map<BackendName, Backend>();
const availability = new Map<BackendName, Promise<boolean>>();
let active: Backend | undefined;
/** The registered backends' names, in registration order (the built-ins first). */
export const BACKEND_NAMES: readonly BackendName[] = [];

/**
 * Plug in a backend: `factory` makes its one instance on first use, `probe` says (once, never
 * throwing) whether it works on this machine. Registering a name again replaces it.
 *
 * @example
 * ```ts
 * import { registerBackend, listBackends } from '@llm-modules/tensor';
 * // a backend whose probe finds nothing to run on: listed as registered, never as available
 * registerBackend('not-here', () => { throw new Error('no device'); }, async () => false);
 * console.log((await listBackends()).includes('not-here')); // false
 * ```
 */
export function registerBackend(name: BackendName, factory: () => Backend, probe: () => Promise<boolean> = async () => true): void {
  if (!registrations.has(name)) (BACKEND_NAMES as BackendName[]).push(name);
  registrations.set(name, { factory, probe });
  instances.delete(name);
  availability.delete(name);
}

registerBackend('threads', () => new CpuBackend('threads'), () => probeGpuJsMode('threads'));
registerBackend('webasm', () => new CpuBackend('webasm'), () => probeGpuJsMode('webasm'));
registerBackend('cpu', () => new CpuBackend('cpu'), () => probeGpuJsMode('cpu'));
for (const mode of ['headlessgl', 'webgl2', 'webgl', 'webgpu'] as const) registerBackend(mode, () => new GpuJsBackend(mode), () => probeGpuJsMode(mode));
registerBackend('reference', () => new ReferenceBackend());

const isBrowser = typeof (globalThis as { window?: unknown }).window !== 'undefined';
const DEFAULT_ORDER: readonly BackendName[] = isBrowser ? ['webgpu', 'webgl2', 'webgl', 'threads', 'webasm', 'cpu'] : ['threads', 'webasm', 'cpu'];


function instance(name: BackendName): Backend {
  let b = instances.get(name);
  if (!b) {
    const reg = registrations.get(name);
    if (!reg) throw new TensorError('setBackend', `unknown backend "${name}" (expected one of ${BACKEND_NAMES.join(', ')})`);
    b = reg.factory();
    instances.set(name, b);
  }
  return b;
}

/** Does this backend work on this machine? (probed once with a tiny kernel) */
export function isBackendAvailable(name: BackendName): Promise<boolean> {
  const reg = registrations.get(name);
  if (!reg) return Promise.resolve(false);
  let p = availability.get(name);
  if (!p) {
    p = reg.probe().catch(() => false);
    availability.set(name, p);
  }
  return p;
}

/** Names of the backends that work here. @example `console.log(await listBackends())` → ['threads', 'webasm', 'cpu', 'reference'] */
export async function listBackends(): Promise<BackendName[]> {
  const ok = await Promise.all(BACKEND_NAMES.map((n) => isBackendAvailable(n)));
  return BACKEND_NAMES.filter((_, k) => ok[k]);
}

/**
 * Make `name` the active backend for later evaluations. Throws for an unknown name.
 * @example-skip changes the backend of the whole process
 * @example `setBackend('webasm')`
 */
export function setBackend(name: BackendName): void {
  if (!BACKEND_NAMES.includes(name)) throw new TensorError('setBackend', `unknown backend "${name}" (expected one of ${BACKEND_NAMES.join(', ')})`);
  active = instance(name);
}

/**
 * Pick the default backend: `LLM_MODULES_BACKEND` when set, else the first working one of the
 * default order. Resolves to its name.
 */
export async function initBackend(): Promise<BackendName> {
  const env = typeof process !== 'undefined' ? process.env?.LLM_MODULES_BACKEND : undefined;
  if (env) {
    setBackend(env as BackendName);
    return env as BackendName;
  }
  for (const name of DEFAULT_ORDER) {
    if (await isBackendAvailable(name)) {
      setBackend(name);
      return name;
    }
  }
  setBackend('cpu');
  return 'cpu';
}

/** The active backend (the env choice or the default when none was set). */
export function getBackend(): Backend {
  if (!active) {
    const env = typeof process !== 'undefined' ? process.env?.LLM_MODULES_BACKEND : undefined;
    setBackend((env as BackendName) || DEFAULT_ORDER.find((n) => n !== 'webgpu' && n !== 'webgl2' && n !== 'webgl') || 'cpu');
  }
  return active!;
}

/** @internal the backend instance that owns storage of this name ('host' data is readable by any). */
export function backendByName(name: BackendName | 'host'): Backend {
  return instance(name === 'host' ? 'cpu' : name);
}

/** Run `fn` with another backend active, restoring the previous one afterwards. */
export async function withBackend<T>(name: BackendName, fn: () => Promise<T> | T): Promise<T> {
  const prev = getBackend();
  setBackend(name);
  try {
    return await fn();
  } finally {
    active = prev;
  }
}
