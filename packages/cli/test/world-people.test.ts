/**
 * The people world (`demo --world people`): held-out facts never appear in a training or validation trace, every
 * trace restates the prompt's name before the fact, everything is deterministic by seed, and its tokenizer makes
 * each name syllable, word and value one token (so traces share one length and the value sits at one position).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '@llm-modules/loaders';
import { copyRate, peopleTraceSet } from '../src/demo/people.js';
import { PEOPLE_VOCAB, peopleFacts, peopleTeacherRows, personCompletionText, personFactText, personPromptText, writePeopleTokenizer } from '../src/demo/world-people.js';
import { splitWorld } from '../src/demo/world.js';

let dir: string;
let tok: Tokenizer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'people-world-'));
  await writePeopleTokenizer(dir);
  tok = await loadTokenizer(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the people world', () => {
  it('has distinct two-syllable names, each with one city and one job', () => {
    const facts = peopleFacts(40, 0);
    expect(facts).toHaveLength(80);
    const names = [...new Set(facts.map((f) => f.name))];
    expect(names).toHaveLength(40);
    for (const n of names) {
      expect(n).toMatch(/^[A-Z][a-z][a-z]{2}$/);
      expect(facts.filter((f) => f.name === n).map((f) => f.attribute).sort()).toEqual(['city', 'job']);
    }
  });

  it('is deterministic by seed (facts, split, teacher rows) and another seed gives another world', () => {
    const a = peopleFacts(40, 3);
    expect(peopleFacts(40, 3)).toEqual(a);
    expect(peopleFacts(40, 4)).not.toEqual(a);
    expect(splitWorld(a, { seed: 3 })).toEqual(splitWorld(peopleFacts(40, 3), { seed: 3 }));
    expect(peopleTeacherRows(a, { copies: 2, perRow: 4, seed: 0 })).toEqual(peopleTeacherRows(peopleFacts(40, 3), { copies: 2, perRow: 4, seed: 0 }));
  });

  it('held-out facts never appear in a training or validation trace; every trace restates its name before the fact', () => {
    const facts = peopleFacts(60, 1);
    const split = splitWorld(facts, { seed: 1 });
    expect(split.heldout.length).toBeGreaterThan(facts.length / 2);
    const traces = [...split.train, ...split.validation].map((f) => personPromptText(f) + personCompletionText(f));
    for (const f of split.heldout) {
      // the held-out fact in its brief form (` Kalo lives in rome`) is in no trace; end-anchored so ` rome` ≠ ` romeX`
      const fact = personFactText(f);
      expect(traces.some((t) => t.includes(`${fact},`) || t.endsWith(fact))).toBe(false);
    }
    for (const f of facts) {
      const completion = personCompletionText(f);
      expect(completion.startsWith(` ${f.name} `)).toBe(true); // the name first
      expect(completion.indexOf(f.value)).toBeGreaterThan(completion.indexOf(f.name)); // then the fact
      expect(personPromptText(f)).toContain(f.name);
    }
    // the teacher learns every fact, held out ones included (the bridge must carry them over)
    const rows = peopleTeacherRows(facts, { copies: 1, perRow: 4, seed: 0 }).map((r) => r.text).join('');
    for (const f of split.heldout) expect(rows).toContain(`${personFactText(f)}.`);
  });

  it('its tokenizer: each syllable, word and value one token, names two, and text round-trips', () => {
    const ids = tok.encode(' Kalo lives in rome, so A: rome', { addSpecialTokens: false });
    // ' Ka' 'lo' ' lives' ' in' ' rome' ',' ' so' ' ' 'A' ':' ' rome'
    expect(ids.map((i) => tok.decode([i]))).toEqual([' Ka', 'lo', ' lives', ' in', ' rome', ',', ' so', ' ', 'A', ':', ' rome']);
    expect(Math.max(...ids)).toBeLessThan(PEOPLE_VOCAB);
    for (const w of [' tailor', ' singer', ' oslo', ' kyiv', ' works', ' as', ' job', ' city']) expect(tok.encode(w, { addSpecialTokens: false })).toHaveLength(1);
    for (const name of ['Pelo', 'Kako', 'Dada', 'Vine']) expect(tok.encode(` ${name}`, { addSpecialTokens: false })).toHaveLength(2);
    expect(tok.decode(tok.encode(' Mipe works as miner.', { addSpecialTokens: false }))).toBe(' Mipe works as miner.');
  });

  it('traces share one length; the scored position holds the value inside the restated sentence', () => {
    const facts = peopleFacts(30, 2);
    const set = peopleTraceSet(tok, facts);
    expect(set.promptLength).toBe(4); // ' Ka' 'lo' ' city' '?'
    expect(set.sequences[0]).toHaveLength(4 + 11 + 1); // prompt, completion, EOS
    expect(set.answerPosition).toBe(8); // ' Ka' 'lo' ' city' '?' ' Ka' 'lo' ' lives' ' in' → ' rome'
    set.facts.forEach((f, i) => expect(tok.decode([set.sequences[i][set.answerPosition]])).toBe(` ${f.value}`));
  });

  it('copy rate: the share of samples that restate the prompt name right after the prompt', () => {
    const facts = [{ name: 'Kalo', attribute: 'city' as const, value: 'rome' }, { name: 'Mira', attribute: 'job' as const, value: 'pilot' }];
    expect(copyRate([' Kalo city? Kalo lives in oslo, so A: oslo', ' Mira job? Miro works as pilot, so A: pilot'], facts)).toBe(0.5);
  });
});
