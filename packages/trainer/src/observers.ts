/** Observers of the train loop: progress, metrics log, checkpoints. Each is a plain function of events. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadCheckpoint, saveCheckpoint } from '@llm-modules/loaders';
import { memoryStats } from '@llm-modules/tensor';
import type { Observer, TrainState } from './loop.js';

/**
 * Progress on a stream: a one-line bar with ETA and tokens/s on a TTY, plain lines every `every`
 * steps otherwise (CI logs).
 * @example `observers: [progressObserver({ label: 'enhanced' })]`
 */
export function progressObserver({ stream = process.stderr, every = 10, label = 'train' }: { stream?: NodeJS.WriteStream; every?: number; label?: string } = {}): Observer {
  let total: number | null = null;
  let started = 0;
  let first = 0;
  let tokens = 0;
  return (e) => {
    if (e.type === 'start') {
      total = e.totalSteps;
      started = 0;
      return;
    }
    if (e.type === 'step') {
      // the clock starts with the first step itself, not at 'start': a resumed run first skips the batches its
      // epoch already consumed (reading cached teacher states), which said nothing about the time per step
      if (!started) {
        started = performance.now() - e.seconds * 1000;
        first = e.step - 1;
      }
      tokens += e.tokens;
      const elapsed = (performance.now() - started) / 1000;
      const rate = (e.step - first) / Math.max(elapsed, 1e-9);
      const eta = total ? Math.max(0, (total - e.step) / Math.max(rate, 1e-9)) : null;
      const text = `${label} step ${e.step}${total ? `/${total}` : ''} loss ${e.loss.toFixed(4)} ${Math.round(tokens / Math.max(elapsed, 1e-9))} tok/s${eta !== null ? ` eta ${eta.toFixed(0)}s` : ''}`;
      if (stream.isTTY) {
        const width = 24;
        const filled = total ? Math.round((width * e.step) / total) : 0;
        stream.write(`\r${total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : ''}${text}\x1b[K`);
      } else if (e.step % every === 0 || e.step === total) stream.write(`${text}\n`);
      return;
    }
    if (e.type === 'eval') stream.write(`${stream.isTTY ? '\n' : ''}${label} eval at step ${e.step}: loss ${e.loss.toFixed(4)}${e.improved ? ' (best)' : ''}\n`);
    if (e.type === 'end' && stream.isTTY) stream.write('\n');
  };
}

/**
 * Append every event as one JSON line to `path` (the metrics log). A step's line also carries the
 * process's resident memory (`rssBytes`) and the tensor storages' bytes (`memoryStats`): live after the
 * step (`liveTensorBytes`) and the most live during it (`peakTensorBytes`, since the previous step's line),
 * the CPU kernels' WebAssembly memory (`wasmBytes`: tensor storage and scratch, it never shrinks), the
 * bytes of JavaScript array buffers (`arrayBuffersBytes`: tensors outside wasm memory, and released ones
 * the garbage collector has not yet taken) and V8's heap (`jsHeapBytes`).
 * @example-skip writes a file @example `observers: [jsonlObserver('runs/x/metrics.jsonl')]`
 */
export function jsonlObserver(path: string): Observer {
  mkdirSync(dirname(path), { recursive: true });
  return (e) => {
    const mu = e.type === 'step' ? process.memoryUsage() : undefined;
    const memory = mu ? { rssBytes: mu.rss, liveTensorBytes: memoryStats.liveBytes, peakTensorBytes: memoryStats.peakBytes, wasmBytes: memoryStats.wasmBytes, arrayBuffersBytes: mu.arrayBuffers, jsHeapBytes: mu.heapUsed } : {};
    if (e.type === 'step' || e.type === 'start') memoryStats.peakBytes = memoryStats.liveBytes;
    appendFileSync(path, `${JSON.stringify({ time: new Date().toISOString(), ...e, ...memory })}\n`);
  };
}

let collector: (() => void) | undefined | null = null;
/** V8's full garbage collection (`global.gc`, else exposed once through a flag and a fresh context), or undefined. */
function collectGarbage(): (() => void) | undefined {
  if (collector === null) {
    collector = (globalThis as { gc?: () => void }).gc;
    try {
      if (!collector) setFlagsFromString('--expose-gc');
      collector ??= runInNewContext('gc') as () => void;
    } catch {
      collector = undefined;
    }
  }
  return collector;
}

/**
 * Collect garbage before the first step and after every step: the arrays a step released (its logits, activations, the donated
 * state's leftovers) are otherwise freed only at V8's next major collection, which can come after the
 * next step's peak (a paper-scale step left ~1.7 GB of them). Put it before the observers that read the
 * memory. A full collection of the small JavaScript heap takes tens of ms.
 * @example-skip changes the process's V8 flags @example `observers: [gcObserver(), jsonlObserver('runs/x/metrics.jsonl')]`
 */
export function gcObserver(): Observer {
  return (e) => void ((e.type === 'step' || e.type === 'start') && collectGarbage()?.());
}

interface LoopPosition {
  epoch: number;
  batchInEpoch: number;
  bestValidationLoss: number | null;
  evalsWithoutImprovement: number;
}

/**
 * Save the whole train state (atomically) to `dir`.
 * @example
 * ```ts
 * import { mkdtempSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * const opt = adamw({ lr: 1e-3 });
 * const state = initialState({ w: tensor([1, 2]) }, opt);
 * const dir = join(mkdtempSync(join(tmpdir(), 'run-')), 'checkpoint');
 * await saveTrainState(dir, state);
 * const back = await loadTrainState(dir); // the same params, optimizer state and position
 * console.log(back.step, await (back.params as { w: ReturnType<typeof tensor> }).w.array()); // 0 [1, 2]
 * ```
 */
export async function saveTrainState(dir: string, state: TrainState, config?: unknown): Promise<void> {
  const position: LoopPosition = { epoch: state.epoch, batchInEpoch: state.batchInEpoch, bestValidationLoss: state.bestValidationLoss, evalsWithoutImprovement: state.evalsWithoutImprovement };
  await saveCheckpoint(dir, { params: state.params, optimizerState: state.optState, step: state.step, config, rng: position });
}

/**
 * Load a train state saved by `saveTrainState` / `checkpointObserver`; training continues exactly where it stopped.
 * @example-skip reads a checkpoint folder (saveTrainState's example writes one and loads it back)
 * @example `const state = await loadTrainState('runs/a/checkpoint')`
 */
export async function loadTrainState(dir: string): Promise<TrainState> {
  const ck = await loadCheckpoint(dir);
  const pos = ck.rng as LoopPosition;
  return { params: ck.params as TrainState['params'], optState: ck.optimizerState, step: ck.step ?? 0, ...pos };
}

/**
 * Checkpoint every `every` optimizer steps and at the end of training.
 * @example-skip a fragment of a train() call; writes checkpoints
 * @example `observers: [checkpointObserver({ dir: 'runs/a/checkpoint', every: 100 })]`
 */
export function checkpointObserver({ dir, every, config }: { dir: string; every: number; config?: unknown }): Observer {
  return async (e, state) => {
    if ((e.type === 'step' && e.step % every === 0) || e.type === 'end') await saveTrainState(dir, state, config);
  };
}
