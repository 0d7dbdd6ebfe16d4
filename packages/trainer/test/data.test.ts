import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadTokenizer, type Row } from '@llm-modules/loaders';
import { bucketedBatches, formatExample, splitExamples, IGNORE_INDEX, type Example } from '@llm-modules/trainer';

const tokDir = fileURLToPath(new URL('../../loaders/test/fixtures/tokenizers/qwen2', import.meta.url));
const row: Row = {
  kind: 'chat',
  system: 'Think step by step.',
  conversations: [
    { from: 'user', value: 'What is 7 + 5?' },
    { from: 'assistant', value: '<|begin_of_thought|> 7 + 5 = 12 <|end_of_thought|> 12' },
  ],
};

describe('formatExample', async () => {
  const tok = await loadTokenizer(tokDir);
  const masked = (ex: Example) => ex.inputIds.filter((_, i) => ex.lossMask[i]);

  test('paper format: the released text layout, EOS appended, loss on every token', () => {
    const ex = formatExample(row, tok, { format: 'paper', lossOn: 'all' });
    // The layout of the research note, written out by hand.
    const text = 'System:\n\n**Think step by step.**\n\nUser:\n\nWhat is 7 + 5?\n\nAssistant:\n\n<|begin_of_thought|> 7 + 5 = 12 <|end_of_thought|> 12\n\n';
    expect(tok.decode(ex.inputIds.slice(0, -1))).toBe(text);
    expect(ex.inputIds.at(-1)).toBe(tok.eosTokenId);
    expect(ex.lossMask.every((m) => m === 1)).toBe(true);
    expect(formatExample(row, tok, { appendEos: false }).inputIds.length).toBe(ex.inputIds.length - 1);
  });

  test('loss on the assistant only covers exactly its reply and the EOS', () => {
    const ex = formatExample(row, tok, { format: 'paper', lossOn: 'assistant' });
    expect(tok.decode(masked(ex))).toBe('<|begin_of_thought|> 7 + 5 = 12 <|end_of_thought|> 12' + tok.decode([tok.eosTokenId!]));
  });

  test('chatml: the tokenizer template, assistant-only mask on the reply', () => {
    const ex = formatExample(row, tok, { format: 'chatml', lossOn: 'assistant', appendEos: false });
    const messages = [{ role: 'system', content: row.system! }, { role: 'user', content: 'What is 7 + 5?' }, { role: 'assistant', content: row.conversations[1].value }];
    expect(tok.decode(ex.inputIds)).toBe(tok.applyChatTemplate(messages, { addGenerationPrompt: false }));
    expect(tok.decode(masked(ex))).toBe(row.conversations[1].value);
  });

  test('system prompt override (the released code hard-codes one) and unknown roles', () => {
    const ex = formatExample(row, tok, { systemPrompt: 'X', appendEos: false });
    expect(tok.decode(ex.inputIds).startsWith('System:\n\n**X**\n\n')).toBe(true);
    const bad: Row = { kind: 'chat', system: null, conversations: [{ from: 'robot', value: 'hi' }] };
    expect(() => formatExample(bad, tok)).toThrow(/unknown conversation role "robot"/);
  });
});

const fake = (n: number, len: (i: number) => number): Example[] =>
  Array.from({ length: n }, (_, i) => ({ inputIds: Array.from({ length: len(i) }, (_, t) => i * 1000 + t), lossMask: Array.from({ length: len(i) }, () => 1) }));

describe('splitExamples', () => {
  test('seeded, disjoint, fixed: same seed same split, validation never in train', () => {
    const data = fake(200, (i) => 1 + (i % 13));
    const a = splitExamples(data, { seed: 3, subset: 0.5, validation: 0.1 });
    const b = splitExamples(data, { seed: 3, subset: 0.5, validation: 0.1 });
    expect(a.train.length + a.validation.length).toBe(100);
    expect(a.validation.length).toBe(10);
    expect(a.train.map((e) => e.inputIds[0])).toEqual(b.train.map((e) => e.inputIds[0]));
    const trainIds = new Set(a.train.map((e) => e.inputIds[0]));
    expect(a.validation.some((e) => trainIds.has(e.inputIds[0]))).toBe(false);
    const c = splitExamples(data, { seed: 4, subset: 0.5, validation: 0.1 });
    expect(c.train.map((e) => e.inputIds[0])).not.toEqual(a.train.map((e) => e.inputIds[0]));
  });
  test('length rule: drop (the paper) or truncate', () => {
    const data = fake(10, (i) => (i < 5 ? 3 : 30));
    expect(splitExamples(data, { maxLength: 10, validation: 0 }).dropped).toBe(5);
    const cut = splitExamples(data, { maxLength: 10, validation: 0, overLength: 'truncate' });
    expect(cut.train.length).toBe(10);
    expect(Math.max(...cut.train.map((e) => e.inputIds.length))).toBe(10);
  });
  test('cutTo: the released rule, drop over maxLength then cut what is kept to the student positions', () => {
    const data = fake(9, (i) => [3, 8, 12][i % 3]); // three each of 3, 8 and 12 tokens
    const s = splitExamples(data, { maxLength: 10, cutTo: 5, validation: 0 });
    expect(s.dropped).toBe(3); // the 12-token ones
    expect(s.train.map((e) => e.inputIds.length).sort()).toEqual([3, 3, 3, 5, 5, 5]);
    for (const e of s.train) expect(e.lossMask).toHaveLength(e.inputIds.length);
  });
});

describe('bucketedBatches', () => {
  test('every example once, right padding, labels -100 on pads and masked tokens', async () => {
    const data = fake(37, (i) => 1 + ((i * 7) % 20));
    data[0].lossMask[0] = 0;
    const seen: number[] = [];
    let padded = 0;
    for (const b of bucketedBatches(data, { batchSize: 4, padId: 0, seed: 1 })) {
      const [B, T] = b.inputIds.shape;
      const ids = await b.inputIds.data();
      const mask = await b.attentionMask.data();
      const labels = await b.labels.data();
      for (let r = 0; r < B; r++) {
        seen.push(Math.floor(ids[r * T] / 1000));
        for (let t = 0; t < T; t++) {
          if (!mask[r * T + t]) {
            padded++;
            expect(labels[r * T + t]).toBe(IGNORE_INDEX);
          }
        }
      }
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 37 }, (_, i) => i));
    // Bucketing by length keeps padding far below the ~50% of random batches of lengths 1..20.
    const total = data.reduce((s, e) => s + e.inputIds.length, 0);
    expect(padded / (padded + total)).toBeLessThan(0.15);
  });
});
