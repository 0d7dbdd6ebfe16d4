/** The workspace the bad-input table runs in: models, data, configs, and a snapshot of every file to prove nothing was written. */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultDemoDir } from '../src/commands/demo.js';
import { TINY_STUDENT } from './bridge-setup.js';
import { TINY_LM } from './lm-setup.js';
// @ts-expect-error a plain .mjs script without types
import { writeByteTokenizer } from '../../../scripts/make-byte-tokenizer.mjs';

const fixtures = fileURLToPath(new URL('../../transformer/test/fixtures/', import.meta.url));

/** Every file and folder under `dir` with its size and modification time. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p);
      out[p] = s.isDirectory() ? 'dir' : `${s.size}@${s.mtimeMs}`;
      if (s.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

const json = (file: string, value: unknown) => writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));

/**
 * A fresh workspace `w` with: `neo/` (GPT-Neo fixture + ASCII tokenizer), `neo-bare/` (no tokenizer), `teacher/`
 * (the demo teacher), `tok/` (byte tokenizer), data files, `lm-*.json` and `bridge-*.json` configs, `afile.txt`,
 * `prior-run/` (a finished run) and `not-empty/`.
 */
export function badInputWorkspace(): string {
  const w = mkdtempSync(join(tmpdir(), 'llm-modules-bad-input-'));
  for (const [name, withTokenizer] of [['neo', true], ['neo-bare', false]] as const) {
    mkdirSync(join(w, name));
    for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(fixtures, 'models', 'gptneo', f), join(w, name, f));
    if (withTokenizer) for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(fixtures, 'tokenizer-ascii', f), join(w, name, f));
  }
  cpSync(join(defaultDemoDir(), 'teacher'), join(w, 'teacher'), { recursive: true });
  writeByteTokenizer(join(w, 'tok'));
  const rows = Array.from({ length: 12 }, (_, i) => JSON.stringify({ text: `${i % 7}*2=${(i % 7) * 2}` }));
  json(join(w, 'data.jsonl'), `${rows.join('\n')}\n`);
  json(join(w, 'bad-row.jsonl'), '{"text":"a"}\n{"text":"b"}\n{"txt":"c"}\n');
  json(join(w, 'bad-json.jsonl'), '{"text":"a"}\n{"text": \n');
  json(join(w, 'ids-big.jsonl'), '{"input_ids":[1,2]}\n{"input_ids":[1,400,2]}\n');
  json(join(w, 'chat.jsonl'), `${JSON.stringify({ conversations: [{ from: 'user', value: 'x' }, { from: 'assistant', value: 'y' }] })}\n`);
  json(join(w, 'qa.jsonl'), `${JSON.stringify({ prompt: '3+4=', answer: '7' })}\n${JSON.stringify({ prompt: '1+1=' })}\n`);
  json(join(w, 'qa-trace.jsonl'), `${JSON.stringify({ prompt: '3+4=', completion: '7, so A:7' })}\n`);
  json(join(w, 'afile.txt'), 'not a model');
  json(join(w, 'empty.jsonl'), '');
  mkdirSync(join(w, 'prior-run'));
  json(join(w, 'prior-run', 'model.safetensors'), 'weights of an earlier run');
  json(join(w, 'prior-run', 'metrics.jsonl'), '{"type":"start"}\n');
  mkdirSync(join(w, 'not-empty'));
  json(join(w, 'not-empty', 'keep.txt'), 'mine');

  const lm = (training: object = {}, extra: object = {}) => ({ mode: 'lm', model: { config: TINY_LM }, tokenizer: 'tok', data: { train: 'data.jsonl' }, output: 'run', training: { backend: 'cpu', batchSize: 4, maxSteps: 1, ...training }, ...extra });
  const lmConfigs: Record<string, unknown> = {
    ok: lm(),
    epochs: lm({ epochs: 'many' }),
    unknownField: lm({}, { outptu: 'x' }),
    missingData: lm({}, { data: { train: 'nowhere.jsonl' } }),
    badRow: lm({}, { data: { train: 'bad-row.jsonl' } }),
    badJsonRow: lm({}, { data: { train: 'bad-json.jsonl' } }),
    intoFile: lm({}, { output: 'afile.txt' }),
    intoRun: lm({}, { output: 'prior-run' }),
    teacherInLm: lm({}, { teacher: 'teacher' }),
    missingTokenizer: lm({}, { tokenizer: 'no-tokenizer-here' }),
    badModelType: lm({}, { model: { config: { ...TINY_LM, model_type: 'bert' } } }),
    badSchedule: lm({}, { optimizer: { schedule: { kind: 'exponential' } } }),
    webglBackend: lm({ backend: 'webgl' }),
  };
  for (const [name, cfg] of Object.entries(lmConfigs)) json(join(w, `lm-${name}.json`), cfg);
  json(join(w, 'lm-notjson.json'), '{"mode": "lm",\n  "model": \n');

  const bridge = (options: object, extra: object = {}) => ({ mode: 'bridge', teacher: 'teacher', bridge: { variant: 'enhanced', options: { heads: 2, adapterDim: 8, layers: 1, ...options } }, model: { config: TINY_STUDENT }, tokenizer: 'teacher', data: { train: 'data.jsonl' }, training: { batchSize: 2, maxSteps: 1, backend: 'cpu' }, output: 'bridge-run', ...extra });
  const bridgeConfigs: Record<string, unknown> = {
    headsWord: bridge({ heads: 'four' }),
    hedas: bridge({ hedas: 4 }),
    heads5: bridge({ heads: 5 }),
    variant: { ...bridge({}), bridge: { variant: 'enhancd', options: {} } },
    causalType: bridge({ causal: 'yes' }),
    dropoutNegative: bridge({ dropout: -0.5 }),
    dimsTeacher: { ...bridge({}), bridge: { variant: 'enhanced', options: { heads: 2, adapterDim: 8, layers: 1 }, dims: { teacher: 1536 } } },
    missingTeacher: bridge({}, { teacher: 'no-teacher' }),
    headSmall: bridge({}, { head: { vocabSize: 100 } }),
    tokenIds: bridge({}, { data: { train: 'ids-big.jsonl', appendEos: false } }),
  };
  for (const [name, cfg] of Object.entries(bridgeConfigs)) json(join(w, `bridge-${name}.json`), cfg);
  return w;
}
