import { describe, expect, test } from 'vitest';
import { memoryStats, prngKey, setBackend, type Tensor } from '@llm-modules/tensor';
import { treeLeaves, type PyTree } from '@llm-modules/autograd';
import { parseConfig } from '@llm-modules/loaders';
import { causalLMLoss, createModel } from '@llm-modules/transformer';
import { adamw, collate, initialState, train, type Batch, type TrainEvent, type TrainState } from '@llm-modules/trainer';

// A small GPT-Neo: its embeddings and MLP weights are over adamw's batching size (updated one by one, in
// multi-output kernels), its norms and biases are under it (updated as joined vectors).
const model = createModel(
  parseConfig({ model_type: 'gpt_neo', vocab_size: 200, hidden_size: 48, num_layers: 2, num_heads: 4, intermediate_size: 192, max_position_embeddings: 32, attention_types: [[['global', 'local'], 1]], window_size: 8 }),
);
const ids = (k: number) => Array.from({ length: 24 }, (_, i) => (k * 37 + i * 11) % 200);
// the same batch objects every epoch, so no batch tensor is dropped between steps (their release would move the live bytes)
const data: Batch[] = [0, 1, 2].map((k) => collate([{ inputIds: ids(k), lossMask: ids(k).map(() => 1) }], 0));
const loss = (p: PyTree, b: Batch): Tensor => causalLMLoss(model.apply(p as Record<string, Tensor>, b.inputIds).logits, b.labels);

const gc = (globalThis as { gc?: () => void }).gc;
/** collect garbage and let the FinalizationRegistry's callbacks run: dropped tensors (a forward's host constants) release their storage */
async function settle(): Promise<void> {
  for (let k = 0; k < 5; k++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function run(steps: number, donate: boolean) {
  const opt = adamw({ lr: 1e-3, groups: [{ match: 'transformer.h.0.', lr: 5e-4 }] });
  const start = initialState(model.init(prngKey(3)), opt);
  const perStep: { loss: number; live: number; rss: number; wasm: number; storage: unknown }[] = [];
  const unsettled: number[] = [];
  const observe = async (e: TrainEvent, s: TrainState) => {
    if (e.type !== 'step') return;
    unsettled.push(memoryStats.liveBytes);
    await settle();
    const wte = (s.params as Record<string, Tensor>)['transformer.wte.weight'];
    perStep.push({ loss: e.loss, live: memoryStats.liveBytes, rss: process.memoryUsage.rss(), wasm: memoryStats.wasmBytes, storage: wte.view?.storage });
  };
  const final = await train(start, { loss, optimizer: opt, batches: () => data, epochs: Math.ceil(steps / data.length), maxSteps: steps, clipNorm: 1, donate, observers: [observe] });
  const params = await Promise.all(treeLeaves(final.params).map((t) => t.data()));
  return { start, final, perStep, params, unsettled };
}

describe.each(['webasm', 'cpu'] as const)('train with donate on %s', (backend) => {
  test('the same losses and parameters, bit for bit, as without donation; the donated start cannot be read', async () => {
    setBackend(backend);
    const plain = await run(6, false);
    const donated = await run(6, true);
    expect(donated.perStep.map((s) => s.loss)).toEqual(plain.perStep.map((s) => s.loss));
    expect(donated.params).toEqual(plain.params);
    await expect(treeLeaves(donated.start.params)[0].data()).rejects.toThrow(/donated to an earlier evaluation/);
    expect(await treeLeaves(plain.start.params)[0].data()).toBeInstanceOf(Float32Array); // without donation the start stays readable
  });

  test.skipIf(!gc)('live tensor bytes are exactly flat across 12 steps, the WebAssembly memory too from step 2, RSS within 64 MB', async () => {
    setBackend(backend);
    const { perStep, unsettled } = await run(12, true);
    const live = perStep.map((s) => s.live);
    // parameters, moments and the batches, nothing else (step 1 writes new storages for the state; every later step writes into those)
    const floats = (tree: unknown) => treeLeaves(tree).reduce((n, t) => n + t.size, 0);
    expect(live[0]).toBe(4 * (3 * floats(model.init(prngKey(0))) + floats(data)));
    expect(new Set(live)).toEqual(new Set([live[0]]));
    expect(new Set(perStep.map((s) => s.storage)).size).toBe(1); // the token table is updated in place
    // before any garbage collection too, the step's gradients (as many bytes as the parameters) are already freed: only the
    // forward's small constants wait for it (and, on the first step, what the cpu backend's first kernels made)
    for (const u of unsettled.slice(1)) expect(u - live[0]).toBeLessThan(floats(model.init(prngKey(0))) * 2);
    expect(new Set(perStep.slice(1).map((s) => s.wasm)).size).toBe(1); // the kernels' memory (never shrinks) stops growing
    const rss = perStep.map((s) => s.rss);
    expect(Math.max(...rss.slice(4)) - rss[4]).toBeLessThan(64 * 2 ** 20);
  });
});
