/**
 * The demo's teacher: a small Qwen2 trained from scratch on every fact by our own `llm-modules train`
 * (examples/knowledge-transfer/teacher.train.json), shipped as a safetensors folder, and its fact accuracy.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tokenizer } from '@llm-modules/loaders';
import { argmax, tensor } from '@llm-modules/tensor';
import type { CausalLM, Params } from '@llm-modules/transformer';
import { progressObserver, readTrainConfig, runTrainConfig, type Observer } from '@llm-modules/trainer';
import { allFacts, encode, factText, teacherRows, type Fact } from './world.js';
import { writeWorldTokenizer } from './world-tokenizer.js';

/** Token ids of `text` (no special tokens); defined with the world (browser-safe). */
export { encode };

/**
 * Greedy next-token accuracy of `model` on `a op b =` → answer, over `facts` (one batched forward).
 * @example `const acc = await factAccuracy(teacher.model, teacher.params, tok, allFacts()) // ≥ 0.9 for the shipped teacher`
 */
export async function factAccuracy(model: CausalLM, params: Params, tok: Tokenizer, facts: readonly Fact[]): Promise<number> {
  const prompts = facts.map((f) => encode(tok, factText(f).replace(/=.*$/, '=')));
  const T = prompts[0].length;
  if (prompts.some((p) => p.length !== T)) throw new Error('factAccuracy: fact prompts must have one length');
  const ids = tensor(Int32Array.from(prompts.flat()), [facts.length, T]);
  const { logits } = model.apply(params, ids);
  const best = await argmax(logits, -1).data();
  let right = 0;
  facts.forEach((f, i) => void (best[i * T + T - 1] === encode(tok, String(f.answer))[0] && right++));
  return right / facts.length;
}

/**
 * Re-create the shipped teacher: write the tokenizer and `facts.jsonl` into `dir`, then run `llm-modules train`'s
 * runner on `dir/teacher.train.json` (output `dir/teacher`). The checkpoint folder is removed afterwards; the
 * folder keeps config.json, model.safetensors and the tokenizer files.
 * @example `await retrainTeacher('examples/knowledge-transfer', { stream: process.stderr })`
 */
export async function retrainTeacher(dir: string, opts: { stream?: NodeJS.WriteStream; observers?: Observer[] } = {}): Promise<{ seconds: number; steps: number }> {
  await writeWorldTokenizer(join(dir, 'tokenizer'));
  const rows = teacherRows(allFacts(), { copies: 8, perRow: 4, seed: 0 });
  await writeFile(join(dir, 'facts.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const configFile = join(dir, 'teacher.train.json');
  const cfg = await readTrainConfig(configFile);
  const observers = opts.observers ?? [progressObserver({ stream: opts.stream ?? process.stderr })];
  const result = await runTrainConfig(cfg, { configFile, observers });
  await rm(join(result.output, 'checkpoint'), { recursive: true, force: true });
  await rm(join(result.output, 'metrics.jsonl'), { force: true });
  return { seconds: result.seconds, steps: result.steps };
}
