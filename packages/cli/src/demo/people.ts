/**
 * The people world in the demo: its traces (one length, the fact's value at a fixed position), the teacher's fact
 * accuracy on the brief forms, the copy rate of generations, and its teacher — trained at demo time by the same
 * `llm-modules train` runner that makes the shipped arithmetic teacher (there is no shipped people teacher).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tokenizer } from '@llm-modules/loaders';
import { argmax, tensor } from '@llm-modules/tensor';
import type { CausalLM, Params } from '@llm-modules/transformer';
import { readTrainConfig, runTrainConfig, type Observer } from '@llm-modules/trainer';
import type { TraceSet } from './metrics.js';
import { encode } from './teacher.js';
import { PEOPLE_VOCAB, peopleTeacherRows, personCompletionText, personFactPrompt, personPromptText, writePeopleTokenizer, type PersonFact } from './world-people.js';
import { WORLD_EOS } from './world.js';

/** The single token of a value as it stands in a sentence (` rome`). */
const valueToken = (tok: Tokenizer, value: string): number => {
  const ids = encode(tok, ` ${value}`);
  if (ids.length !== 1) throw new Error(`people world: " ${value}" is ${ids.length} tokens, expected 1`);
  return ids[0];
};

/**
 * Tokenized traces of `facts`: prompt ` Kalo city?`, completion ` Kalo lives in rome, so A: rome`, EOS. The scored
 * position is the value inside the restated sentence (after the name and the relation), where the frozen teacher
 * — reading the student's own text — knows the fact.
 * @example-skip needs the people tokenizer (see writePeopleTokenizer)
 * @example `const set = peopleTraceSet(tok, split.heldout); set.sequences[0].length // 16`
 */
export function peopleTraceSet(tok: Tokenizer, facts: readonly PersonFact[]): TraceSet<PersonFact> {
  const prompts = facts.map((f) => encode(tok, personPromptText(f)));
  const sequences = facts.map((f, i) => [...prompts[i], ...encode(tok, personCompletionText(f)), tok.eosTokenId ?? WORLD_EOS]);
  const L = sequences[0]?.length ?? 0;
  if (sequences.some((s) => s.length !== L) || prompts.some((p) => p.length !== prompts[0].length)) throw new Error('peopleTraceSet: traces must share one length');
  const promptLength = prompts[0]?.length ?? 0;
  const nameLength = promptLength - 2; // the prompt is the name, the attribute word and `?`
  const answerPosition = promptLength + nameLength + 2; // after the restated name and the two relation words
  const answers = facts.map((f) => valueToken(tok, f.value));
  sequences.forEach((s, i) => {
    if (s[answerPosition] !== answers[i]) throw new Error(`peopleTraceSet: the value of "${personCompletionText(facts[i])}" is not at position ${answerPosition}`);
  });
  return { facts: facts.slice(), sequences, promptLength, answerPosition, answers };
}

/**
 * Greedy next-token accuracy of the teacher on its brief forms (` Kalo lives in` → ` rome`), one batched forward.
 * @example-skip needs a trained people teacher
 * @example `const acc = await peopleFactAccuracy(teacher.model, teacher.params, tok, facts)`
 */
export async function peopleFactAccuracy(model: CausalLM, params: Params, tok: Tokenizer, facts: readonly PersonFact[]): Promise<number> {
  const prompts = facts.map((f) => encode(tok, personFactPrompt(f)));
  const T = prompts[0].length;
  if (prompts.some((p) => p.length !== T)) throw new Error('peopleFactAccuracy: fact prompts must have one length');
  const { logits } = model.apply(params, tensor(Int32Array.from(prompts.flat()), [facts.length, T]));
  const best = await argmax(logits, -1).data();
  return facts.filter((f, i) => best[i * T + T - 1] === valueToken(tok, f.value)).length / facts.length;
}

/**
 * The share of generations (decoded samples, prompt included) that restate the prompt's name right after the prompt.
 * @example `copyRate([' Kalo city? Kalo lives in rome, so A: rome'], [{ name: 'Kalo', attribute: 'city', value: 'rome' }]) // 1`
 */
export function copyRate(samples: readonly string[], facts: readonly PersonFact[]): number {
  if (!facts.length) return 0;
  const copied = facts.filter((f, i) => samples[i]?.startsWith(`${personPromptText(f)} ${f.name} `)).length;
  return copied / facts.length;
}

/** The people teacher's train config (`mode: lm`): a Qwen2 as small as the shipped arithmetic teacher. */
export function peopleTeacherConfig(epochs: number): Record<string, unknown> {
  return {
    mode: 'lm',
    model: {
      config: {
        model_type: 'qwen2', architectures: ['Qwen2ForCausalLM'], vocab_size: PEOPLE_VOCAB, hidden_size: 64, num_hidden_layers: 2,
        num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 192, max_position_embeddings: 64, rms_norm_eps: 1e-6,
        rope_theta: 10000, tie_word_embeddings: true, bos_token_id: WORLD_EOS, eos_token_id: WORLD_EOS,
      },
    },
    tokenizer: 'tokenizer',
    data: { train: 'facts.jsonl', lossOn: 'all', maxLength: 64, validationFraction: 0 },
    optimizer: { lr: 0.005, weightDecay: 0.01, schedule: { kind: 'cosine', warmupSteps: 30, minLr: 0.0002 } },
    training: { epochs, batchSize: 32, clipNorm: 1, seed: 7 },
    output: 'teacher',
  };
}

/**
 * Train the people world's teacher in `dir` (tokenizer, `facts.jsonl`, `teacher.train.json`, then `teacher/`) on
 * every fact with `llm-modules train`'s runner; the checkpoint and metrics are removed afterwards.
 * @example-skip trains a model (about a minute)
 * @example `await trainPeopleTeacher('/tmp/people', peopleFacts(40, 0), { epochs: 60 })`
 */
export async function trainPeopleTeacher(dir: string, facts: readonly PersonFact[], opts: { epochs: number; observers?: Observer[] }): Promise<{ seconds: number; steps: number }> {
  await writePeopleTokenizer(join(dir, 'tokenizer'));
  const rows = peopleTeacherRows(facts, { copies: 8, perRow: 4, seed: 0 });
  await writeFile(join(dir, 'facts.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const configFile = join(dir, 'teacher.train.json');
  await writeFile(configFile, `${JSON.stringify(peopleTeacherConfig(opts.epochs), null, 2)}\n`);
  const result = await runTrainConfig(await readTrainConfig(configFile), { configFile, observers: opts.observers ?? [] });
  await rm(join(result.output, 'checkpoint'), { recursive: true, force: true });
  await rm(join(result.output, 'metrics.jsonl'), { force: true });
  return { seconds: result.seconds, steps: result.steps };
}
