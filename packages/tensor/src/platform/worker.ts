/**
 * The platform seam of the CPU backend's thread pool, Node side: worker_threads workers and the core
 * count from node:os. The browser build (dist/browser.js) swaps this file for worker.browser.ts (see
 * tsup.config.ts), so a browser bundle never imports a Node built-in. Both files export the same names.
 *
 * Node built-ins are loaded with dynamic imports: the module loads anywhere, and costs nothing until the
 * `threads` backend starts its pool.
 */

/** A started worker, as the pool uses it. */
export interface PoolWorker {
  postMessage(message: unknown): void;
  terminate(): void;
}

/**
 * Lines run first in a worker: they define `workerData` (the pool's start data), `post(m)` (to the
 * pool), `nextMessage()` (a message already sent by the pool, or undefined: never waits) and `start(main)`,
 * which runs `main` once the data is there. Node: worker_threads gives all of them synchronously.
 */
export const WORKER_PRELUDE = `
const { workerData, parentPort, receiveMessageOnPort } = require('node:worker_threads');
const post = (m) => parentPort.postMessage(m);
const nextMessage = () => receiveMessageOnPort(parentPort)?.message;
const start = (main) => main();
`;

/** Can the calling thread block in Atomics.wait? (always in Node) */
export const canBlock = (): boolean => true;

/**
 * Start a worker running `source` (after WORKER_PRELUDE) with `data`; resolves once it has posted its
 * first message. Resolves to undefined where workers are unavailable.
 */
export async function spawnWorker(source: string, data: unknown): Promise<PoolWorker | undefined> {
  if (typeof process === 'undefined' || !process.versions?.node) return undefined;
  const { Worker } = await import('node:worker_threads');
  const w = new Worker(WORKER_PRELUDE + source, { eval: true, workerData: data });
  // referenced until it is ready (an unreferenced worker would let the process exit mid-await)
  await new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  });
  w.unref();
  return { postMessage: (m) => w.postMessage(m), terminate: () => void w.terminate() };
}

/** CPU cores available to this process (undefined when unknown). */
export async function cpuCores(): Promise<number | undefined> {
  try {
    if (typeof process === 'undefined' || !process.versions?.node) return undefined;
    const os = await import('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  } catch {
    return undefined;
  }
}
