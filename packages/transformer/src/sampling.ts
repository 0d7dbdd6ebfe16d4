/** Next-token choice on the host: repetition penalty, temperature, top-k, top-p, greedy or sampled. */

export interface SamplingOptions {
  /** Pick the most likely token (after the repetition penalty). Default true. */
  greedy?: boolean;
  /** Divide the logits by this before sampling (default 1). */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or undefined: all). */
  topP?: number;
  /** Hugging Face's repetition penalty (CTRL): logits of tokens already present are divided by it when positive, multiplied when negative. */
  repetitionPenalty?: number;
}

/**
 * Index of the largest value (the first one on ties, as `torch.argmax`).
 * @example `argmaxOf(Float32Array.of(1, 3, 3))` → 1
 */
export function argmaxOf(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/**
 * Apply the repetition penalty in place to `row` for every id in `previous`.
 * @example-skip a fragment: `logits` comes from the caller's code
 * @example `applyRepetitionPenalty(logits, [5, 7], 1.2)`
 */
export function applyRepetitionPenalty(row: Float32Array, previous: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(previous)) {
    if (id < 0 || id >= row.length) continue;
    row[id] = row[id] < 0 ? row[id] * penalty : row[id] / penalty;
  }
}

/**
 * Probabilities after temperature, top-k and top-p (Hugging Face's warpers, in that order): tokens removed by
 * top-k (strictly below the k-th value) or top-p get probability 0; at least one token is always kept.
 * @example-skip a fragment: `logits` comes from the caller's code
 * @example `warpedProbabilities(logits, { temperature: 0.9, topK: 100, topP: 0.98 })`
 */
export function warpedProbabilities(row: Float32Array, { temperature = 1, topK = 0, topP = 1 }: SamplingOptions): Float64Array {
  if (!(temperature > 0)) throw new Error(`temperature must be > 0, got ${temperature}`);
  const V = row.length;
  const scaled = Float64Array.from(row, (v) => v / temperature);
  const keep = new Uint8Array(V).fill(1);
  if (topK > 0 && topK < V) {
    const kth = Float64Array.from(scaled).sort((a, b) => b - a)[topK - 1];
    for (let i = 0; i < V; i++) if (scaled[i] < kth) keep[i] = 0;
  }
  const softmax = () => {
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (keep[i] && scaled[i] > max) max = scaled[i];
    const p = new Float64Array(V);
    let sum = 0;
    for (let i = 0; i < V; i++) if (keep[i]) sum += p[i] = Math.exp(scaled[i] - max);
    for (let i = 0; i < V; i++) p[i] /= sum;
    return p;
  };
  if (topP < 1) {
    const p = softmax();
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[a] - p[b]); // ascending, as HF
    let cum = 0;
    for (let r = 0; r < V - 1; r++) {
      cum += p[order[r]];
      if (cum <= 1 - topP) keep[order[r]] = 0;
      else break;
    }
  }
  return softmax();
}

/**
 * Choose the next token from one row of logits. `uniform` is a number in [0, 1) used when sampling.
 * @example-skip a fragment: `logits` comes from the caller's code
 * @example `chooseToken(logits, { greedy: false, temperature: 0.9, topK: 100, topP: 0.98 }, [1, 2], 0.37)`
 */
export function chooseToken(logits: Float32Array, opts: SamplingOptions, previous: readonly number[], uniform: number): number {
  const row = Float32Array.from(logits);
  applyRepetitionPenalty(row, previous, opts.repetitionPenalty ?? 1);
  if (opts.greedy ?? true) return argmaxOf(row);
  const p = warpedProbabilities(row, opts);
  let cum = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    last = i;
    cum += p[i];
    if (uniform < cum) return i;
  }
  return last;
}
