/**
 * The platform seam of the CPU backend's thread pool, browser side (swapped in for worker.ts by the
 * browser build): Web Workers started from a Blob URL. WebAssembly threads need shared memory, which a
 * browser grants only to a cross-origin-isolated page (COOP/COEP headers); elsewhere `SharedArrayBuffer`
 * is missing, the wasm kernels report unsupported and `threads`/`webasm` run their JavaScript kernels.
 */

/** A started worker, as the pool uses it. */
export interface PoolWorker {
  postMessage(message: unknown): void;
  terminate(): void;
}

/**
 * Lines run first in a worker (see worker.ts). A Web Worker gets its data as its first message and can
 * not take a message synchronously, so `nextMessage()` reads a queue the message handler fills while
 * the worker waits between ops (the pool skips jobs whose module has not arrived yet).
 */
export const WORKER_PRELUDE = `
const queue = [];
let workerData;
const post = (m) => self.postMessage(m);
const nextMessage = () => queue.shift();
const start = (main) => {
  self.onmessage = (e) => {
    if (workerData === undefined) {
      workerData = e.data;
      main();
    } else queue.push(e.data);
  };
};
`;

/** Can the calling thread block in Atomics.wait? Not a page's main thread; a worker can. */
export const canBlock = (): boolean => typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';

/** Start a Web Worker running `source` with `data`; undefined without Workers or shared memory. */
export async function spawnWorker(source: string, data: unknown): Promise<PoolWorker | undefined> {
  const g = globalThis as { Worker?: typeof Worker; crossOriginIsolated?: boolean };
  if (!g.Worker || g.crossOriginIsolated === false || typeof SharedArrayBuffer === 'undefined') return undefined;
  const url = URL.createObjectURL(new Blob([WORKER_PRELUDE + source], { type: 'text/javascript' }));
  const w = new g.Worker(url);
  w.postMessage(data);
  await new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`thread worker failed to start: ${e.message}`));
  });
  w.onmessage = null;
  URL.revokeObjectURL(url);
  return { postMessage: (m) => w.postMessage(m), terminate: () => w.terminate() };
}

/** Logical cores the browser reports (undefined when it does not say). */
export async function cpuCores(): Promise<number | undefined> {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
}
