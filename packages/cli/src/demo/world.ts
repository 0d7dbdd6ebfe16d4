/**
 * The demo's synthetic fact world: sums `a+b` and remainders `a%b` of small numbers. A teacher learns every
 * fact in a brief form (`7+5=12`); reasoning-style traces (`7+5=12, so A:12`) exist for a quarter of the facts,
 * a tenth is for validation and the rest is held out. Numbers 10–99 are single tokens (BPE merges over a
 * byte-level vocabulary), so every fact's answer sits at one token position. No Node built-in here (the tokenizer files:
 * world-tokenizer.ts): `llm-modules/demo-world` re-exports it for pages.
 */
import type { Tokenizer } from '@llm-modules/loaders';
import { mulberry32 } from '@llm-modules/tensor';

export interface Fact {
  a: number;
  op: '+' | '%';
  b: number;
  answer: number;
}

/** Token ids of `text` (no special tokens). */
export const encode = (tok: Tokenizer, text: string): number[] => tok.encode(text, { addSpecialTokens: false });

/** The facts' text forms. */
export const factText = (f: Fact) => `${f.a}${f.op}${f.b}=${f.answer}`;
/**
 * The trace prompt (what generation starts from): the question exactly in the teacher's brief form, at the start
 * of the sequence, so the frozen teacher's state at `=` predicts the answer (it does for 0.97 of the facts; behind
 * an unseen prefix such as `Q ` only for 0.59 — the student can only copy what the teacher knows in context).
 */
export const promptText = (f: Fact) => `${f.a}${f.op}${f.b}=`;
/** The short worked trace and final answer that follow the prompt (EOS is appended by the tokenizer step). */
export const completionText = (f: Fact) => `${f.answer}, so A:${f.answer}`;

/**
 * Every fact of the world: `a+b` for a, b in 0…15 and `a%b` for a in 10…47, b in 2…9 (560 facts, as the
 * reference protocol).
 * @example `allFacts().length // 560`
 */
export function allFacts(): Fact[] {
  const facts: Fact[] = [];
  for (let a = 0; a <= 15; a++) for (let b = 0; b <= 15; b++) facts.push({ a, op: '+', b, answer: a + b });
  for (let a = 10; a <= 47; a++) for (let b = 2; b <= 9; b++) facts.push({ a, op: '%', b, answer: a % b });
  return facts;
}

/** A seeded generator (mulberry32): the world's splits and shuffles are reproducible. */
export const rng = mulberry32;

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const r = rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export interface WorldSplit<F = Fact> {
  /** facts with a training trace (a quarter) */
  train: F[];
  /** facts whose traces pick settings (a tenth) */
  validation: F[];
  /** facts never traced in training: the evaluation set */
  heldout: F[];
}

/**
 * Split facts (seeded): traces for `trainFraction`, validation `validationFraction`, the rest held out.
 * @example `const { train, heldout } = splitWorld(allFacts(), { seed: 0 })`
 */
export function splitWorld<F = Fact>(facts: readonly F[], opts: { seed: number; trainFraction?: number; validationFraction?: number }): WorldSplit<F> {
  const order = shuffled(facts, opts.seed);
  const nTrain = Math.round(order.length * (opts.trainFraction ?? 0.25));
  const nVal = Math.round(order.length * (opts.validationFraction ?? 0.1));
  return { train: order.slice(0, nTrain), validation: order.slice(nTrain, nTrain + nVal), heldout: order.slice(nTrain + nVal) };
}

/**
 * The teacher's pretraining rows: `copies` shuffles of every fact, `perRow` facts to a line (`7+5=12 31%4=3 …`),
 * so the teacher knows each fact whatever precedes it.
 * @example `teacherRows(allFacts(), { copies: 8, perRow: 4, seed: 0 })[0] // { text: "…" }`
 */
export function teacherRows(facts: readonly Fact[], opts: { copies: number; perRow: number; seed: number }): { text: string }[] {
  const rows: { text: string }[] = [];
  for (let c = 0; c < opts.copies; c++) {
    const order = shuffled(facts, opts.seed + c + 1);
    for (let i = 0; i < order.length; i += opts.perRow) rows.push({ text: order.slice(i, i + opts.perRow).map(factText).join(' ') });
  }
  return rows;
}

/** GPT-2's reversible byte → printable-unicode map (both worlds' tokenizers). @example `bytesToUnicode().get(32) // 'Ġ'` */
export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let c = 0x21; c <= 0x7e; c++) bs.push(c);
  for (let c = 0xa1; c <= 0xac; c++) bs.push(c);
  for (let c = 0xae; c <= 0xff; c++) bs.push(c);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCodePoint(cs[i])]));
}

/** Vocabulary size of the world's tokenizer: 256 bytes, `<|endoftext|>` (256), then "10"…"99". */
export const WORLD_VOCAB = 347;
export const WORLD_EOS = 256;
