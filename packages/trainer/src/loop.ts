/**
 * The training loop: a fold over batches that emits events. Progress bars, metric logs, checkpoints and
 * early stopping are observers or options; the step itself (value-and-grad, clip, optimizer update) is pure.
 */
import { treeLeaves, valueAndGrad, type PyTree } from '@llm-modules/autograd';
import { donate, evaluate, type Tensor } from '@llm-modules/tensor';
import { clipByGlobalNorm } from './optim/clip.js';
import { accumulate, scaleTree } from './optim/accumulate.js';
import type { Optimizer } from './optim/types.js';
import type { Batch } from './data/batches.js';

export type TrainEvent =
  | { type: 'start'; step: number; totalSteps: number | null }
  | { type: 'step'; step: number; epoch: number; loss: number; gradNorm: number; lr: number | null; tokens: number; tokensPerSecond: number; seconds: number }
  | { type: 'eval'; step: number; loss: number; tokens: number; improved: boolean }
  | { type: 'end'; step: number; reason: 'done' | 'max-steps' | 'early-stopping' | 'aborted'; bestValidationLoss: number | null };

/** Where training stands: everything needed to resume exactly. */
export interface TrainState {
  params: PyTree;
  optState: unknown;
  /** optimizer steps taken */
  step: number;
  epoch: number;
  /** batches of `epoch` already consumed */
  batchInEpoch: number;
  bestValidationLoss: number | null;
  evalsWithoutImprovement: number;
}

/** Observers see every event with the state after it; they may be async (checkpoint writers). */
export type Observer = (event: TrainEvent, state: TrainState) => void | Promise<void>;

export interface TrainOptions {
  /** mean loss over the target tokens of a batch */
  loss: (params: PyTree, batch: Batch) => Tensor;
  optimizer: Optimizer<unknown>;
  /** the batches of an epoch, in a deterministic order for a given epoch (so resuming can skip) */
  batches: (epoch: number) => Iterable<Batch> | AsyncIterable<Batch>;
  validation?: () => Iterable<Batch> | AsyncIterable<Batch>;
  epochs?: number;
  maxSteps?: number;
  /** micro-batches per optimizer step (weighted by their target tokens) */
  accumulate?: number;
  clipNorm?: number;
  evalEvery?: number;
  earlyStopping?: { patience: number; minDelta?: number };
  /** learning rate to report for a step (a schedule), if any */
  lr?: (step: number) => number;
  observers?: Observer[];
  /** stop cleanly (after the current step) when aborted, e.g. on SIGINT */
  signal?: AbortSignal;
  /** total optimizer steps, when known, for progress and ETA */
  totalSteps?: number;
  /**
   * Each step gives the old parameters, optimizer state and the gradients to the update (`donate` in
   * `@llm-modules/tensor`): the new state is written into the old one's storage where the backend can,
   * and the rest is freed as soon as the update has run, so training holds one copy of the state. The
   * results are the same; but every state, `start` included, is used up by the step after it, so an
   * observer must copy what it keeps (`await t.data()`) rather than keep a state's tensors.
   */
  donate?: boolean;
}

/**
 * CPU backends resolve their promises at once, so a loop of steps would run entirely in microtasks and
 * starve timers and signal handlers (Ctrl-C would wait for the end of training). One macrotask turn per
 * step lets them run.
 */
const yieldToEventLoop = (): Promise<void> => new Promise((r) => (typeof setImmediate === 'function' ? setImmediate(r) : setTimeout(r, 0)));

function asyncIterator<T>(source: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> | Iterator<T> {
  return Symbol.asyncIterator in source ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]();
}

/** A fresh state for `params`. @example `initialState({ w: tensor([1, 2]) }, adamw({ lr: 1e-3 })).step` → 0 */
export const initialState = (params: PyTree, optimizer: Optimizer<unknown>): TrainState => ({
  params,
  optState: optimizer.init(params),
  step: 0,
  epoch: 0,
  batchInEpoch: 0,
  bestValidationLoss: null,
  evalsWithoutImprovement: 0,
});

/** Mean loss over the validation batches, weighted by target tokens. */
export async function evaluateLoss(loss: TrainOptions['loss'], params: PyTree, batches: Iterable<Batch> | AsyncIterable<Batch>): Promise<{ loss: number; tokens: number }> {
  let total = 0;
  let tokens = 0;
  for await (const b of batches) {
    const l = loss(params, b);
    total += (await l.data())[0] * b.targetTokens;
    tokens += b.targetTokens;
  }
  return { loss: tokens ? total / tokens : NaN, tokens };
}

/** One optimizer step over micro-batches: returns the new state and the step's loss and gradient norm. */
async function step(opts: TrainOptions, state: TrainState, micro: Batch[]): Promise<{ next: TrainState; loss: number; gradNorm: number; tokens: number }> {
  const tokens = micro.reduce((s, b) => s + b.targetTokens, 0);
  let lossSum = 0;
  let grads: PyTree | undefined;
  for (const b of micro) {
    const weight = tokens ? b.targetTokens / tokens : 1 / micro.length;
    const lossAndGrad = valueAndGrad(opts.loss as (p: unknown, b: unknown) => Tensor) as (p: unknown, b: unknown) => [Tensor, PyTree];
    const [value, g] = lossAndGrad(state.params, b);
    const scaled = micro.length === 1 ? g : scaleTree(g, weight);
    const sumSoFar = grads;
    grads = sumSoFar === undefined ? scaled : accumulate([sumSoFar, scaled]);
    // the running sum may be written over (only a second micro-batch's gradients are new tensors)
    if (opts.donate && sumSoFar !== undefined) donate(...treeLeaves(sumSoFar));
    await evaluate(value, ...treeLeaves(grads)); // realize so each micro-batch's graph is freed
    lossSum += (await value.data())[0] * weight;
    if (opts.donate) value.dispose();
  }
  let gradNorm = NaN;
  const summed = grads!; // realized: what donation frees (the clipped ones below are pending)
  if (opts.clipNorm) {
    const [clipped, norm] = clipByGlobalNorm(grads!, opts.clipNorm);
    grads = clipped;
    await evaluate(norm);
    gradNorm = (await norm.data())[0];
    if (opts.donate) donate(norm); // the clipped gradients still read it: used up by the update
  }
  const [params, optState] = opts.optimizer.update(grads!, state.optState, state.params);
  const next = [...treeLeaves(params), ...treeLeaves(optState as PyTree)];
  if (opts.donate) {
    // never a tensor the new state still holds (an optimizer may pass a leaf through unchanged)
    const kept = new Set(next);
    donate(...[...treeLeaves(state.params), ...treeLeaves(state.optState as PyTree), ...treeLeaves(summed)].filter((t) => !kept.has(t)));
  }
  await evaluate(...next);
  return { next: { ...state, params, optState, step: state.step + 1 }, loss: lossSum, gradNorm, tokens };
}

/**
 * Train until the epochs or `maxSteps` run out, early stopping triggers, or `signal` aborts. Resumes
 * from any state (the batches already consumed in its epoch are skipped), so a run resumed from a
 * checkpoint gives the same result as an uninterrupted one.
 *
 * @example
 * ```ts
 * import { parseConfig } from '@llm-modules/loaders';
 * import { causalLMLoss, createModel } from '@llm-modules/transformer';
 * const model = createModel(parseConfig({ model_type: 'gpt_neo', vocab_size: 16, hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32, max_position_embeddings: 8, attention_types: [[['global'], 1]] }));
 * const examples = [{ inputIds: [1, 2, 3, 4], lossMask: [1, 1, 1, 1] }, { inputIds: [4, 3, 2, 1], lossMask: [1, 1, 1, 1] }];
 * const opt = adamw({ lr: 1e-2 });
 * const final = await train(initialState(model.init(prngKey(0)), opt), {
 *   loss: (p, batch) => causalLMLoss(model.apply(p, batch.inputIds).logits, batch.labels),
 *   optimizer: opt, batches: (epoch) => bucketedBatches(examples, { batchSize: 2, padId: 0, seed: epoch }),
 *   epochs: 3, clipNorm: 1,
 * });
 * console.log(final.step, final.epoch); // 3 steps (one batch per epoch)
 * ```
 */
export async function train(start: TrainState, opts: TrainOptions): Promise<TrainState> {
  const { epochs = 1, accumulate: acc = 1, observers = [] } = opts;
  let state = start;
  const emit = async (e: TrainEvent) => {
    for (const o of observers) await o(e, state);
  };
  await emit({ type: 'start', step: state.step, totalSteps: opts.totalSteps ?? null });
  let reason: 'done' | 'max-steps' | 'early-stopping' | 'aborted' = 'done';
  outer: for (let epoch = state.epoch; epoch < epochs; epoch++) {
    const iter = asyncIterator(opts.batches(epoch));
    for (let k = 0; k < (epoch === state.epoch ? state.batchInEpoch : 0); k++) await iter.next();
    let consumed = epoch === state.epoch ? state.batchInEpoch : 0;
    state = { ...state, epoch, batchInEpoch: consumed };
    for (;;) {
      if (opts.maxSteps !== undefined && state.step >= opts.maxSteps) {
        reason = 'max-steps';
        break outer;
      }
      if (opts.signal?.aborted) {
        reason = 'aborted';
        break outer;
      }
      const micro: Batch[] = [];
      for (let m = 0; m < acc; m++) {
        const r = await iter.next();
        if (r.done) break;
        micro.push(r.value);
      }
      if (micro.length === 0) break;
      consumed += micro.length;
      const t0 = performance.now();
      const { next, loss, gradNorm, tokens } = await step(opts, state, micro);
      const seconds = (performance.now() - t0) / 1000;
      state = { ...next, batchInEpoch: consumed };
      await yieldToEventLoop();
      await emit({ type: 'step', step: state.step, epoch, loss, gradNorm, lr: opts.lr?.(state.step) ?? null, tokens, tokensPerSecond: tokens / seconds, seconds });
      if (opts.validation && opts.evalEvery && state.step % opts.evalEvery === 0 && (await validate())) {
        reason = 'early-stopping';
        break outer;
      }
    }
    state = { ...state, epoch: epoch + 1, batchInEpoch: 0 };
  }
  await emit({ type: 'end', step: state.step, reason, bestValidationLoss: state.bestValidationLoss });
  return state;

  /** Run validation; true when early stopping says stop. */
  async function validate(): Promise<boolean> {
    const { loss, tokens } = await evaluateLoss(opts.loss, state.params, opts.validation!());
    const minDelta = opts.earlyStopping?.minDelta ?? 0;
    const improved = state.bestValidationLoss === null || loss < state.bestValidationLoss - minDelta;
    state = improved ? { ...state, bestValidationLoss: loss, evalsWithoutImprovement: 0 } : { ...state, evalsWithoutImprovement: state.evalsWithoutImprovement + 1 };
    await emit({ type: 'eval', step: state.step, loss, tokens, improved });
    return opts.earlyStopping !== undefined && state.evalsWithoutImprovement >= opts.earlyStopping.patience;
  }
}
