/**
 * The bad-input suite: each row is a user's mistake, the one line it must print, exit code 1, nothing on stdout, and
 * nothing written anywhere in the workspace (every file's size and modification time compared before and after).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/index.js';
import { badInputWorkspace, snapshot } from './bad-input-setup.js';

let w = '';
beforeAll(() => void (w = badInputWorkspace()));
afterAll(() => rmSync(w, { recursive: true, force: true }));

/** `@` in an argument stands for the workspace folder. */
interface Case {
  command: string;
  args: string[];
  message: RegExp;
  env?: Record<string, string>;
}

const CASES: Case[] = [
  // train: configs
  { command: 'train', args: ['--config', '@/nowhere.json'], message: /nowhere\.json: cannot read the config: no such file$/m },
  { command: 'train', args: ['--config', '@/lm-notjson.json'], message: /lm-notjson\.json: .*(JSON|line)/ },
  { command: 'train', args: ['--config', '@/lm-epochs.json'], message: /lm-epochs\.json: \/training\/epochs must be integer/ },
  { command: 'train', args: ['--config', '@/lm-unknownField.json'], message: /lm-unknownField\.json: .*unknown field "outptu"/ },
  { command: 'train', args: ['--config', '@/lm-missingData.json'], message: /nowhere\.jsonl: cannot open: no such file/ },
  { command: 'train', args: ['--config', '@/lm-badRow.json'], message: /bad-row\.jsonl: line 3: row has none of/ },
  { command: 'train', args: ['--config', '@/lm-badJsonRow.json'], message: /bad-json\.jsonl: line 2: invalid JSON/ },
  { command: 'train', args: ['--config', '@/lm-intoFile.json'], message: /afile\.txt: the run's output is a file, not a folder/ },
  { command: 'train', args: ['--config', '@/lm-ok.json', '--out', '@/afile.txt'], message: /afile\.txt: the run's output is a file, not a folder/ },
  { command: 'train', args: ['--config', '@/lm-ok.json', '--out', '@/afile.txt', '--dry-run'], message: /afile\.txt: the run's output is a file/ },
  { command: 'train', args: ['--config', '@/lm-intoRun.json'], message: /prior-run already holds a run or model \((metrics\.jsonl, model\.safetensors|model\.safetensors, metrics\.jsonl)\): pass --resume to continue it, --overwrite to replace it/ },
  { command: 'train', args: ['--config', '@/lm-intoRun.json', '--resume'], message: /--resume: no checkpoint in .*prior-run/ },
  { command: 'train', args: ['--config', '@/lm-ok.json', '--resume'], message: /--resume: .*run does not exist, so there is no run to continue/ },
  { command: 'train', args: ['--config', '@/lm-ok.json', '--resume', '--overwrite'], message: /--resume and --overwrite exclude each other/ },
  { command: 'train', args: ['--config', '@/lm-ok.json', '--max-steps', 'zero'], message: /--max-steps: expected an integer ≥ 1, got "zero"/ },
  { command: 'train', args: ['--config', '@/lm-ok.json', '--seed', '1.5'], message: /--seed: expected an integer ≥ 0, got "1\.5"/ },
  { command: 'train', args: ['--config', '@/lm-ok.json', '--out', ''], message: /--out: expected a folder/ },
  { command: 'train', args: ['--config', '@/lm-teacherInLm.json'], message: /only for mode "bridge"/ },
  { command: 'train', args: ['--config', '@/lm-missingTokenizer.json'], message: /no-tokenizer-here/ },
  { command: 'train', args: ['--config', '@/lm-badModelType.json'], message: /model_type.*bert|bert.*model_type/ },
  { command: 'train', args: ['--config', '@/lm-badSchedule.json'], message: /lm-badSchedule\.json: .*kind/ },
  { command: 'train', args: [], message: /required option '--config <file>' not specified/ },
  { command: 'train', args: ['--config', '@/lm-webglBackend.json'], message: /lm-webglBackend\.json: training\.backend "webgl": this backend does not work on this machine \(it needs a browser\); remove it/ },
  // train: bridge options name the config file
  { command: 'train', args: ['--config', '@/bridge-headsWord.json'], message: /bridge-headsWord\.json: bridge\.options\.heads must be a number, got "four"/ },
  { command: 'train', args: ['--config', '@/bridge-hedas.json'], message: /bridge-hedas\.json: bridge\.options: unknown option "hedas" for variant "enhanced" \(did you mean "heads"\?\)/ },
  { command: 'train', args: ['--config', '@/bridge-heads5.json'], message: /bridge-heads5\.json: bridge\.options: enhanced: 5 heads do not divide the student width 16/ },
  { command: 'train', args: ['--config', '@/bridge-variant.json'], message: /bridge-variant\.json: bridge\.variant: unknown variant "enhancd" \(did you mean "enhanced"\?\)/ },
  { command: 'train', args: ['--config', '@/bridge-causalType.json'], message: /bridge-causalType\.json: bridge\.options\.causal must be a boolean, got "yes"/ },
  { command: 'train', args: ['--config', '@/bridge-dropoutNegative.json'], message: /bridge-dropoutNegative\.json: bridge\.options\.dropout must be a number ≥ 0, got -0\.5/ },
  { command: 'train', args: ['--config', '@/bridge-dimsTeacher.json'], message: /bridge\.dims\.teacher is 1536 but the teacher .* has hidden_size 64/ },
  { command: 'train', args: ['--config', '@/bridge-missingTeacher.json'], message: /no-teacher/ },
  { command: 'train', args: ['--config', '@/bridge-headSmall.json'], message: /has 347 ids but the head has 100 rows/ },
  { command: 'train', args: ['--config', '@/bridge-tokenIds.json'], message: /ids-big\.jsonl: row 2: token id 400 is outside the vocabulary \[0, 347\)/ },
  // eval
  { command: 'eval', args: ['--model', '@/neo/config.json', '--data', '@/data.jsonl'], message: /config\.json: not a model folder \(a file\): --model takes the folder/ },
  { command: 'eval', args: ['--model', '@/nowhere', '--data', '@/data.jsonl'], message: /nowhere: cannot read: no such file or folder/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/nowhere.jsonl'], message: /nowhere\.jsonl: cannot open: no such file/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/neo'], message: /neo: not a file/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/bad-row.jsonl'], message: /bad-row\.jsonl: line 3: row has none of/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/chat.jsonl'], message: /chat\.jsonl: row 1: conversation rows are not supported by eval/ },
  { command: 'eval', args: ['--model', '@/neo-bare', '--data', '@/data.jsonl'], message: /data\.jsonl: row 1: a text row needs a tokenizer/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/ids-big.jsonl'], message: /ids-big\.jsonl: row 2: token id 400 is outside the model's vocabulary \[0, 96\)/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl', '--batch-size', '0'], message: /--batch-size: expected an integer ≥ 1, got "0"/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl', '--max-length', '1000'], message: /--max-length 1000 exceeds max_position_embeddings 64/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl', '--backend', 'tpu'], message: /--backend: unknown backend "tpu"/ },
  // a Dawn backend that does not exist (or no webgpu package at all): the tensor package's one line, in parentheses
  {
    command: 'eval',
    args: ['--model', '@/neo', '--data', '@/data.jsonl', '--backend', 'webgpu'],
    env: { LLM_MODULES_DAWN_BACKEND: 'nonexistent' },
    message: /--backend: backend "webgpu" does not work on this machine \(backend webgpu(: Dawn found no adapter \(tried nonexistent\)|: the optional package `webgpu` did not (start|load)| needs the optional package `webgpu`)/,
  },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl', '--task', 'bleu'], message: /--task: unknown task "bleu" \(loss or answer\)/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl', '--marker', 'A:'], message: /--marker needs --task answer/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/qa.jsonl', '--task', 'answer'], message: /qa\.jsonl: line 2: no "answer" \(or "completion"\) string/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/qa-trace.jsonl', '--task', 'answer'], message: /qa-trace\.jsonl: line 1: a "completion" row needs --marker TEXT/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/qa-trace.jsonl', '--task', 'answer', '--marker', 'B:'], message: /qa-trace\.jsonl: line 1: the completion has no marker "B:"/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl', '--task', 'answer'], message: /data\.jsonl: line 1: --task answer needs \{"prompt": string, "answer": string\} rows/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/empty.jsonl', '--task', 'answer'], message: /empty\.jsonl: no rows/ },
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl', '--teacher', '@/teacher'], message: /--teacher: .*neo is not a bridge folder/ },
  // generate
  { command: 'generate', args: ['--model', '@/neo'], message: /pass exactly one of --prompt TEXT and --ids 1,2,3/ },
  { command: 'generate', args: ['--model', '@/neo', '--prompt', 'a', '--ids', '1'], message: /pass exactly one of --prompt TEXT and --ids/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1,x'], message: /--ids: expected comma-separated token ids, got "1,x"/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1,200'], message: /--ids: token id 200 is outside the model's vocabulary \[0, 96\)/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--greedy', '--sample'], message: /--greedy and --sample exclude each other/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--temperature', '0'], message: /--temperature: expected a number in/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--top-p', '2'], message: /--top-p: expected a number in \[0\.000001, 1\], got "2"/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--max-new-tokens', '-1'], message: /--max-new-tokens: expected an integer ≥ 0/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--max-new-tokens', '100'], message: /exceed max_position_embeddings 64/ },
  { command: 'generate', args: ['--model', '@/neo-bare', '--prompt', 'hi'], message: /neo-bare: no tokenizer files/ },
  { command: 'generate', args: ['--model', '@/afile.txt', '--ids', '1'], message: /afile\.txt: not a model folder \(a file\)/ },
  { command: 'generate', args: ['--model', '@/neo', '--prompt', 'hi', '--chat'], message: /tokenizer_config\.json: no chat_template/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--chat'], message: /--chat needs --prompt TEXT/ },
  { command: 'generate', args: ['--model', '@/neo', '--prompt', 'hi', '--system', 'x'], message: /--system needs --chat/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--teacher', '@/teacher'], message: /--teacher: .*neo is not a bridge folder/ },
  // tokenize / decode
  { command: 'tokenize', args: ['--model', '@/nowhere', '--text', 'hi'], message: /nowhere: no such folder/ },
  { command: 'tokenize', args: ['--model', '@/afile.txt', '--text', 'hi'], message: /afile\.txt: not a model folder \(a file\)/ },
  { command: 'tokenize', args: ['--model', '@/neo', '--file', '@/nowhere.txt'], message: /nowhere\.txt: cannot read: no such file or folder/ },
  { command: 'tokenize', args: ['--model', '@/neo', '--file', '@/neo'], message: /neo: is a folder, expected a text file/ },
  { command: 'tokenize', args: ['--model', '@/neo', '--file', '@/afile.txt', '--text', 'x'], message: /pass one of --text TEXT and --file FILE, not both/ },
  { command: 'tokenize', args: ['--model', '@/neo-bare', '--text', 'hi'], message: /neo-bare: no tokenizer/ },
  { command: 'decode', args: ['--model', '@/neo', '--ids', '1,500'], message: /--ids: token id 500 is outside the tokenizer's vocabulary \[0, 96\)/ },
  { command: 'decode', args: ['--model', '@/neo', '--ids', 'a'], message: /--ids: expected comma-separated token ids, got "a"/ },
  { command: 'decode', args: ['--model', '@/neo'], message: /required option '--ids <ids>' not specified/ },
  // inspect
  { command: 'inspect', args: ['@/nowhere'], message: /nowhere: no such folder/ },
  { command: 'inspect', args: ['@/afile.txt'], message: /afile\.txt: not a model folder \(a file\)/ },
  { command: 'inspect', args: ['@/not-empty'], message: /not-empty.*(model\.safetensors|no such file)/ },
  { command: 'inspect', args: ['@/neo', '--teacher', '@/teacher'], message: /--teacher: .*neo is not a bridge folder/ },
  // new-model / cache-teacher
  { command: 'new-model', args: ['--config', '@/nowhere/config.json', '--out', '@/new'], message: /nowhere/ },
  { command: 'new-model', args: ['--config', '@/neo', '--out', '@/not-empty'], message: /not-empty.*(not empty|exists)/ },
  { command: 'new-model', args: ['--config', '@/neo', '--out', '@/new', '--dtype', 'f64'], message: /--dtype/ },
  { command: 'new-model', args: ['--config', '@/neo', '--out', '@/new', '--shard-size', 'huge'], message: /--shard-size/ },
  { command: 'cache-teacher', args: ['--model', '@/nowhere', '--data', '@/data.jsonl', '--out', '@/cache'], message: /nowhere/ },
  { command: 'cache-teacher', args: ['--model', '@/teacher', '--data', '@/data.jsonl', '--out', '@/afile.txt'], message: /afile\.txt/ },
  // the environment
  { command: 'eval', args: ['--model', '@/neo', '--data', '@/data.jsonl'], env: { LLM_MODULES_BACKEND: 'webgl' }, message: /LLM_MODULES_BACKEND=webgl: this backend does not work on this machine \(it needs a browser\); unset it/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1'], env: { LLM_MODULES_BACKEND: 'cuda' }, message: /LLM_MODULES_BACKEND=cuda: unknown backend \(one of / },
  // the command line itself
  { command: 'trian', args: [], message: /^llm-modules: unknown command 'trian' \(Did you mean train\?\)\n$/ },
  { command: 'generate', args: ['--model', '@/neo', '--ids', '1', '--temprature', '1'], message: /^llm-modules: unknown option '--temprature' \(Did you mean --temperature\?\)\n$/ },
];

const fill = (a: string) => a.replace(/^@/, w);

describe('bad input: one line naming the file and the problem, exit 1, nothing written', () => {
  const results: { clean: boolean; row: string }[] = [];
  afterAll(() => {
    const clean = results.filter((r) => r.clean).length;
    // the count the issue's closing note reports
    console.log(`bad-input suite: tried ${results.length}, clean ${clean}`);
  });

  test.each(CASES.map((c, i) => [`${i + 1}. ${c.command} ${c.args.join(' ')}${c.env ? ` (${Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}`, c] as const))('%s', async (_, c) => {
    const before = snapshot(w);
    const saved = Object.fromEntries(Object.keys(c.env ?? {}).map((k) => [k, process.env[k]]));
    Object.assign(process.env, c.env);
    let out = '';
    let err = '';
    let code: number;
    try {
      code = await main([c.command, ...c.args.map(fill)], { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    const after = snapshot(w);
    results.push({ clean: false, row: c.command });
    expect({ code, out }).toEqual({ code: 1, out: '' });
    // one error line, the last; before it only a run's progress notes (a bridge run reports its loaded teacher)
    const lines = err.trimEnd().split('\n');
    expect(lines.filter((l) => l.startsWith('llm-modules: ')), err).toHaveLength(1);
    expect(lines.at(-1), err).toMatch(/^llm-modules: /);
    for (const l of lines.slice(0, -1)) expect(l, err).toMatch(/^teacher: .* loaded in [\d.]+s$/);
    expect(err, err).not.toMatch(/internal error|\bE[A-Z]{3,}\b(?!.*=)|\bat .*:\d+:\d+/);
    expect(err, err).toMatch(c.message);
    expect(after).toEqual(before);
    results[results.length - 1].clean = true;
  });

  test('the workspace really holds what the table refers to', () => {
    expect(snapshot(w)[join(w, 'prior-run', 'model.safetensors')]).toBeDefined();
  });
});
