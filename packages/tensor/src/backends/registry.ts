/**
 * Backend selection. `setBackend(name)` or the `LLM_MODULES_BACKEND` environment variable choose one;
 * otherwise the first that works in the order below (measured fastest first on a CPU-only Node
 * machine; browsers with WebGPU/WebGL try those first).
 */
import type { Backend, BackendName } from '../backend.js';
import { TensorError } from '../errors.js';
import { GpuJsBackend, probeGpuJsMode } from './gpujs/backend.js';
import { ReferenceBackend } from './reference.js';

export const BACKEND_NAMES: readonly BackendName[] = ['threads', 'webasm', 'cpu', 'headlessgl', 'webgl2', 'webgl', 'webgpu', 'reference'];

const isBrowser = typeof (globalThis as { window?: unknown }).window !== 'undefined';
const DEFAULT_ORDER: readonly BackendName[] = isBrowser ? ['webgpu', 'webgl2', 'webgl', 'threads', 'webasm', 'cpu'] : ['threads', 'webasm', 'cpu'];

const instances = new Map<BackendName, Backend>();
const availability = new Map<BackendName, Promise<boolean>>();
let active: Backend | undefined;

function instance(name: BackendName): Backend {
  let b = instances.get(name);
  if (!b) {
    b = name === 'reference' ? new ReferenceBackend() : new GpuJsBackend(name);
    instances.set(name, b);
  }
  return b;
}

/** Does this backend work on this machine? (probed once with a tiny kernel) */
export function isBackendAvailable(name: BackendName): Promise<boolean> {
  if (!BACKEND_NAMES.includes(name)) return Promise.resolve(false);
  let p = availability.get(name);
  if (!p) {
    p = name === 'reference' ? Promise.resolve(true) : probeGpuJsMode(name);
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
