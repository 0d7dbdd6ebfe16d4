/**
 * The demo's second world, built like real look-up knowledge: named people (names made of two syllables, `Kalo`)
 * with a city and a job. The teacher learns every fact in a brief form (` Kalo lives in rome`); a trace answers a
 * question about a person by first restating the prompt's name (` Kalo city?` → ` Kalo lives in rome, so A: rome`),
 * so a student must copy the name from its prompt before the teacher's state can say the fact. Its own tokenizer
 * (GPT-2 byte-level BPE files) makes each name syllable, word, city and job one token, so every trace has one length.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToUnicode, shuffled, WORLD_EOS } from './world.js';

export type Attribute = 'city' | 'job';

/** One fact: a person's attribute and its value. */
export interface PersonFact {
  /** two syllables, the first capitalised: `Kalo` */
  name: string;
  attribute: Attribute;
  value: string;
}

/** First syllables (capitalised) and second syllables of names: 10 × 10 possible names. */
export const FIRST_SYLLABLES = ['Ka', 'Lo', 'Mi', 'Ra', 'To', 'Ne', 'Su', 'Vi', 'Da', 'Pe'] as const;
export const SECOND_SYLLABLES = ['lo', 'mi', 'ra', 'to', 'ne', 'su', 'vi', 'da', 'pe', 'ko'] as const;
/** Values are lowercase words, so no word shares a merge chain with a capitalised name syllable. */
export const CITIES = ['rome', 'oslo', 'lima', 'kyiv', 'baku', 'doha', 'riga', 'bern'] as const;
export const JOBS = ['baker', 'pilot', 'nurse', 'judge', 'miner', 'tailor', 'farmer', 'singer'] as const;
/** The relation words and the question words of the traces. */
const RELATIONS: Record<Attribute, string> = { city: 'lives in', job: 'works as' };
const WORDS = ['lives', 'in', 'works', 'as', 'city', 'job', 'so'] as const;

/** The fact's brief form, as the teacher learns it: ` Kalo lives in rome`. */
export const personFactText = (f: PersonFact) => ` ${f.name} ${RELATIONS[f.attribute]} ${f.value}`;
/** The teacher's fact prompt: the brief form up to the value (` Kalo lives in`). */
export const personFactPrompt = (f: PersonFact) => ` ${f.name} ${RELATIONS[f.attribute]}`;
/** The trace prompt (what generation starts from): ` Kalo city?`. */
export const personPromptText = (f: PersonFact) => ` ${f.name} ${f.attribute}?`;
/** The completion: the name restated, the fact, the final answer (` Kalo lives in rome, so A: rome`). */
export const personCompletionText = (f: PersonFact) => `${personFactText(f)}, so A: ${f.value}`;

/**
 * `count` distinct people (seeded), each with a city and a job: 2·count facts, person by person.
 * @example `peopleFacts(40, 0).length // 80`
 */
export function peopleFacts(count: number, seed: number): PersonFact[] {
  const names = FIRST_SYLLABLES.flatMap((a) => SECOND_SYLLABLES.map((b) => a + b));
  if (!(Number.isInteger(count) && count >= 1 && count <= names.length)) throw new Error(`peopleFacts: count must be 1…${names.length}, got ${count}`);
  const chosen = shuffled(names, seed).slice(0, count);
  const pick = (list: readonly string[], i: number, salt: number) => shuffled(list, seed * 7919 + i * 31 + salt)[0];
  return chosen.flatMap((name, i) => [
    { name, attribute: 'city' as const, value: pick(CITIES, i, 1) },
    { name, attribute: 'job' as const, value: pick(JOBS, i, 2) },
  ]);
}

/**
 * The teacher's pretraining rows: `copies` shuffles of every fact, `perRow` brief forms to a line joined by `.`.
 * @example `peopleTeacherRows(peopleFacts(40, 0), { copies: 8, perRow: 4, seed: 0 })[0].text // " Kalo lives in rome. …"`
 */
export function peopleTeacherRows(facts: readonly PersonFact[], opts: { copies: number; perRow: number; seed: number }): { text: string }[] {
  const rows: { text: string }[] = [];
  for (let c = 0; c < opts.copies; c++) {
    const order = shuffled(facts, opts.seed + c + 1);
    for (let i = 0; i < order.length; i += opts.perRow) rows.push({ text: order.slice(i, i + opts.perRow).map(personFactText).join('.') + '.' });
  }
  return rows;
}

/**
 * Merges that make `word` one token (`Ġ` + the word, or the bare word): each step extends the prefix by one
 * character, so a merge only ever applies to its own word's prefix and words cannot break each other.
 */
function chain(word: string, spaced: boolean): string[] {
  const chars = [...(spaced ? 'Ġ' : ''), ...word];
  const merges: string[] = [];
  let prefix = chars[0];
  for (const c of chars.slice(1)) {
    merges.push(`${prefix} ${c}`);
    prefix += c;
  }
  return merges;
}

/** The people world's tokenizer vocabulary: 256 bytes, `<|endoftext|>` (256), then the merged tokens in order. */
export function peopleVocabulary(): { vocab: Record<string, number>; merges: string[] } {
  const map = bytesToUnicode();
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[map.get(b)!] = b;
  vocab['<|endoftext|>'] = WORLD_EOS;
  // word chains first (lower ranks): they complete before a second-syllable merge can fire inside a word
  const merges = [...new Set([...[...WORDS, ...CITIES, ...JOBS].flatMap((w) => chain(w, true)), ...FIRST_SYLLABLES.flatMap((s) => chain(s, true)), ...SECOND_SYLLABLES.flatMap((s) => chain(s, false))])];
  let id = WORLD_EOS + 1;
  for (const m of merges) {
    const token = m.replace(' ', '');
    if (vocab[token] === undefined) vocab[token] = id++;
  }
  return { vocab, merges };
}

/** Vocabulary size of the people world's tokenizer. */
export const PEOPLE_VOCAB = Object.keys(peopleVocabulary().vocab).length;

/**
 * Write the people world's tokenizer (GPT-2 byte-level BPE files) to `dir`.
 * @example-skip writes files
 * @example `await writePeopleTokenizer('/tmp/people/tokenizer')`
 */
export async function writePeopleTokenizer(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { vocab, merges } = peopleVocabulary();
  const config = { add_prefix_space: false, bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>', model_max_length: 128, tokenizer_class: 'GPT2Tokenizer', clean_up_tokenization_spaces: false };
  await writeFile(join(dir, 'vocab.json'), `${JSON.stringify(vocab)}\n`);
  await writeFile(join(dir, 'merges.txt'), `${['#version: 0.2', ...merges].join('\n')}\n`);
  await writeFile(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
}
