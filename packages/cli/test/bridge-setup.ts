/** A tiny bridge-mode run folder (the demo's shipped teacher, a 1-block student) shared by the bridge train tests. */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDemoDir } from '../src/commands/demo.js';

export const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) } };
};

/** The parsed last stdout line of a `--json` run. */
export const lastJson = (out: string[]) => JSON.parse(out.join('').trim().split('\n').at(-1)!);

export const TINY_STUDENT = { model_type: 'gpt_neo', vocab_size: 347, hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32, max_position_embeddings: 32, attention_types: [[['global'], 1]] };

/** A config file in a fresh folder; `extra` overrides top-level fields, `rows` replaces the data rows. */
export function bridgeSetup(extra: object, rows?: object[]): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-bridge-train-'));
  cpSync(join(defaultDemoDir(), 'teacher'), join(dir, 'teacher'), { recursive: true });
  const texts = ['3+4=7, so A:7', '9%4=1, so A:1', '5+5=10, so A:10', '12%5=2, so A:2', '1+2=3, so A:3', '7+8=15, so A:15'];
  writeFileSync(join(dir, 'traces.jsonl'), (rows ?? texts.map((text) => ({ text }))).map((r) => JSON.stringify(r)).join('\n') + '\n');
  const cfg = { mode: 'bridge', teacher: 'teacher', bridge: { variant: 'enhanced', options: { heads: 2, adapterDim: 8, layers: 1 } }, model: { config: TINY_STUDENT }, tokenizer: 'teacher', data: { train: 'traces.jsonl', validationFraction: 0.2 }, teacherCache: 'cache', training: { batchSize: 2, epochs: 1 }, output: 'out', ...extra };
  writeFileSync(join(dir, 'train.json'), JSON.stringify(cfg));
  return { file: join(dir, 'train.json'), dir };
}
