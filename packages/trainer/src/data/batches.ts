/**
 * Length-bucketed dynamic padding: examples of similar length share a batch, each batch is padded only
 * to its own longest example. Labels are the inputs with every non-target position set to -100 (the
 * ignore index), so the loss is the mean over kept tokens of the whole batch, as Hugging Face computes it.
 */
import { tensor, type Tensor } from '@llm-modules/tensor';
import type { Example } from './format.js';
import { permutation } from './split.js';

export const IGNORE_INDEX = -100;

export interface Batch {
  inputIds: Tensor; // [B, T] int32
  attentionMask: Tensor; // [B, T] int32, 1 = real token
  labels: Tensor; // [B, T] int32, -100 = no loss
  /** tokens that count in the loss */
  targetTokens: number;
  /** positions of the examples in their dataset, when known (to look up cached teacher states) */
  indices?: number[];
  /** [B, T, D] teacher hidden states, when read from a teacher cache */
  teacherStates?: Tensor;
}

export interface BatchOptions {
  batchSize: number;
  padId: number;
  /** order of batches (and of examples inside a length bucket) for this epoch */
  seed?: number;
  /** examples per bucket = batchSize × this; 1 = sort everything by length */
  bucketBatches?: number;
}

/**
 * Pad a list of examples into one batch (right padding).
 * @example
 * ```ts
 * const batch = collate([{ inputIds: [5, 6, 7], lossMask: [1, 1, 1] }, { inputIds: [8], lossMask: [1] }], 0);
 * console.log(await batch.inputIds.array(), await batch.attentionMask.array()); // [[5, 6, 7], [8, 0, 0]] [[1, 1, 1], [1, 0, 0]]
 * ```
 */
export function collate(examples: readonly Example[], padId: number, indices?: number[]): Batch {
  const T = Math.max(1, ...examples.map((e) => e.inputIds.length));
  const B = examples.length;
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  let targetTokens = 0;
  examples.forEach((e, b) => {
    e.inputIds.forEach((id, t) => {
      ids[b * T + t] = id;
      mask[b * T + t] = 1;
      if (e.lossMask[t]) {
        labels[b * T + t] = id;
        if (t > 0) targetTokens++; // position 0 is never predicted (labels shift by one)
      }
    });
  });
  return { inputIds: tensor(ids, [B, T]), attentionMask: tensor(mask, [B, T]), labels: tensor(labels, [B, T]), targetTokens, indices };
}

/**
 * Batches for one epoch: shuffle (seeded), cut into buckets of `bucketBatches` batches, sort each bucket
 * by length, cut into batches, shuffle the batch order.
 * @example-skip a fragment of a loop, not a whole statement
 * @example `for (const batch of bucketedBatches(train, { batchSize: 8, padId: 0, seed: epoch })) …`
 */
export function* bucketedBatches(examples: readonly Example[], opts: BatchOptions): Generator<Batch> {
  const { batchSize, padId, seed = 0, bucketBatches = 16 } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const order = permutation(examples.length, seed);
  const bucket = batchSize * Math.max(1, bucketBatches);
  const groups: number[][] = [];
  for (let s = 0; s < order.length; s += bucket) {
    const sorted = order.slice(s, s + bucket).sort((a, b) => examples[a].inputIds.length - examples[b].inputIds.length);
    for (let k = 0; k < sorted.length; k += batchSize) groups.push(sorted.slice(k, k + batchSize));
  }
  for (const g of permutation(groups.length, seed + 1)) yield collate(groups[g].map((i) => examples[i]), padId, groups[g]);
}
