/**
 * tfjs-wasm on its threaded SIMD build (XNNPACK on a pthread pool), as a same-run baseline at its best.
 *
 * tfjs never picks that build under Node (its `WASM_HAS_MULTITHREAD_SUPPORT` flag answers false there), and
 * forcing the flag is not enough: the Emscripten glue starts its pthreads as `new Worker(blob:…)` and hands
 * each one its main script as a `Blob`, which Node's `worker_threads` cannot run, and tfjs caps XNNPACK's
 * pool at half of `os.cpus().length` (1 thread on a 2-core machine, whatever `setThreadsCount` asked). So
 * tfjs runs in a worker thread of its own, and only there, before tfjs loads, three things are patched:
 *   - `worker_threads.Worker` runs a `blob:` script as the pthread worker's source (`eval: true`: the text
 *     tfjs put in that blob, `wasmWorkerContents` of the package's wasm-out worker file, escaped as tfjs
 *     escapes it), and replaces the `Blob` main script in the pthread's `load` message with the path of the
 *     package's own wasm-out glue file (the same Emscripten output; the blob held a bundler-renamed copy
 *     that cannot run on its own);
 *   - `os.cpus()` lists at least twice the wanted threads (the real entries repeated);
 *   - the multithread flag is set and `setThreadsCount(threads)` called.
 * Nothing of the library runs in that worker and nothing is patched outside it; its matmuls are timed
 * inside it (the result read back, as in the one-thread job) and the time is sent back, so the message
 * round trip is not counted. `checkThreads` shows the pool at work: the threads whose CPU time grew during
 * a second of products (/proc/self/task, Linux) and the process's CPU time over wall time.
 */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';

// The worker's source (CommonJS, run with `eval: true`); workerData: { dirs, threads }.
const WORKER_SOURCE = String.raw`
const wt = require('node:worker_threads');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');
const { dirs, threads } = wt.workerData;
const glue = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd';

function threadTimes() {
  try {
    const out = new Map();
    for (const tid of fs.readdirSync('/proc/self/task')) {
      const f = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ');
      out.set(tid, Number(f[11]) + Number(f[12])); // utime + stime, in clock ticks
    }
    return out;
  } catch { return null; }
}
// the threads whose CPU time grew by at least a third of the busiest one's, and the top shares (ticks)
function busyThreads(before, after) {
  if (!before || !after) return { busy: null, ticks: null };
  const d = [...after].map(([tid, t]) => t - (before.get(tid) ?? 0)).sort((a, b) => b - a);
  return { busy: d[0] > 0 ? d.filter((x) => x >= d[0] / 3).length : null, ticks: d.slice(0, 4) };
}

async function load() {
  for (const dir of dirs) {
    let req;
    try {
      req = createRequire(path.join(dir, 'noop.js'));
      req.resolve('@tensorflow/tfjs-core');
      req.resolve(glue + '.js');
    } catch { continue; }
    const workerSource = req(glue + '.worker.js').wasmWorkerContents.replace(/\n/g, '\\n');
    const mainScript = req.resolve(glue + '.js');
    const RealWorker = wt.Worker;
    wt.Worker = class extends RealWorker {
      constructor(file, opts) {
        if (String(file).startsWith('blob:')) super(workerSource, { ...opts, eval: true });
        else super(file, opts);
      }
      postMessage(msg, transfer) {
        if (msg && msg.cmd === 'load' && typeof msg.urlOrBlob !== 'string') msg = { ...msg, urlOrBlob: mainScript };
        return super.postMessage(msg, transfer);
      }
    };
    const cpus = os.cpus;
    os.cpus = () => {
      const real = cpus();
      return Array.from({ length: Math.max(real.length, 2 * threads) }, (_, i) => real[i % real.length]);
    };
    const tf = req('@tensorflow/tfjs-core');
    const wasm = req('@tensorflow/tfjs-backend-wasm');
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    await tf.setBackend('wasm');
    await tf.ready();
    return { tf, threads: wasm.getThreadsCount(), version: tf.version_core };
  }
  return null;
}

load().then((t) => {
  if (!t) return wt.parentPort.postMessage({ ready: false });
  const { tf } = t;
  const jobs = new Map();
  let next = 1;
  wt.parentPort.on('message', async (m) => {
    try {
      if (m.op === 'job') {
        const A = m.layout === 'tn' ? tf.tensor2d(m.a, [m.K, m.M]) : tf.tensor2d(m.a, [m.M, m.K]);
        const B = m.layout === 'nt' ? tf.tensor2d(m.b, [m.N, m.K]) : tf.tensor2d(m.b, [m.K, m.N]);
        jobs.set(next, { A, B, ta: m.layout === 'tn', tb: m.layout === 'nt' });
        wt.parentPort.postMessage({ id: m.id, job: next++ });
      } else if (m.op === 'run' || m.op === 'check') {
        // run: m.calls products; check: products for at least m.ms, watching which threads work
        const j = jobs.get(m.job);
        const before = threadTimes();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; m.op === 'run' ? i < m.calls : performance.now() - t0 < m.ms; i++) {
          const c = tf.matMul(j.A, j.B, j.ta, j.tb);
          await c.data();
          c.dispose();
        }
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        wt.parentPort.postMessage({ id: m.id, ms, ...busyThreads(before, threadTimes()), cpuPerWall: (cpu.user + cpu.system) / 1000 / ms });
      }
    } catch (e) {
      wt.parentPort.postMessage({ id: m.id, error: String(e && e.message || e) });
    }
  });
  wt.parentPort.postMessage({ ready: true, threads: t.threads, version: t.version });
}, (e) => wt.parentPort.postMessage({ ready: false, error: String(e && e.message || e) }));
`;

/** A matmul on the threaded tfjs: `run(calls)` resolves to the ms that `calls` back-to-back products took. */
export type TfjsThreadedJob = (calls?: number) => Promise<number>;

export interface TfjsThreaded {
  version: string;
  /** the pool size XNNPACK reports (`getThreadsCount()`) */
  threads: number;
  matmulJob: (a: Float32Array, b: Float32Array, M: number, K: number, N: number, layout?: 'nn' | 'nt' | 'tn') => Promise<TfjsThreadedJob>;
  /**
   * Runs `job` back to back for `ms` and reports the threads that did the work (those whose CPU time grew
   * by at least a third of the busiest one's, from /proc/self/task: null off Linux), the four largest
   * per-thread CPU times (clock ticks) and the process's CPU time over that wall time (≈ the threads at
   * work on an otherwise idle machine).
   */
  checkThreads: (job: TfjsThreadedJob, ms?: number) => Promise<{ busyThreads: number | null; threadTicks: number[] | null; cpuPerWall: number }>;
  close: () => Promise<void>;
}

/**
 * tfjs-wasm's threaded SIMD build on `threads` threads in a worker thread of its own, resolved from `dirs`
 * (default: the working directory and ./benchmarks); null when tfjs is absent or the build does not start.
 *
 * @example-skip needs @tensorflow/tfjs-backend-wasm (a benchmark-only dependency) and starts worker threads
 * @example
 * ```ts
 * const tfjs = await loadTfjsWasmThreaded(2);
 * const job = await tfjs!.matmulJob(a, b, 1024, 1024, 1024);
 * const ms = await job(4); // 4 products, timed in the worker
 * const { busyThreads, cpuPerWall } = await tfjs!.checkThreads(job); // 2 and ≈ 2 on an idle machine
 * await tfjs!.close();
 * ```
 */
export async function loadTfjsWasmThreaded(threads = 2, dirs: string[] = [process.cwd(), join(process.cwd(), 'benchmarks')]): Promise<TfjsThreaded | null> {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { dirs, threads } });
  const first = await new Promise<{ ready: boolean; threads?: number; version?: string }>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', () => resolve({ ready: false }));
  });
  if (!first.ready) {
    await worker.terminate();
    return null;
  }
  let nextId = 1;
  const jobIds = new WeakMap<TfjsThreadedJob, number>();
  const pending = new Map<number, (m: any) => void>();
  worker.on('message', (m: { id: number }) => pending.get(m.id)?.(m));
  const call = (msg: object): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (m) => {
        pending.delete(id);
        if (m.error) reject(new Error(`tfjs worker: ${m.error}`));
        else resolve(m);
      });
      worker.postMessage({ ...msg, id });
    });
  return {
    version: first.version ?? '?',
    threads: first.threads ?? threads,
    matmulJob: async (a, b, M, K, N, layout = 'nn') => {
      const { job } = await call({ op: 'job', a, b, M, K, N, layout });
      const run: TfjsThreadedJob = async (calls = 1) => (await call({ op: 'run', job, calls })).ms;
      jobIds.set(run, job);
      return run;
    },
    checkThreads: async (job, ms = 1000) => {
      const r = await call({ op: 'check', job: jobIds.get(job), ms });
      return { busyThreads: r.busy, threadTicks: r.ticks, cpuPerWall: Number(r.cpuPerWall.toFixed(2)) };
    },
    close: async () => {
      await worker.terminate();
    },
  };
}
