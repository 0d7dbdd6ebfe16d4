/** `llm-modules inspect` on bridge folders: the released layout (the bridge fixture) and one written by saveBridge. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { composeModel, saveBridge } from '@llm-modules/bridge';
import { tinyStudent, tinyTeacher } from '@llm-modules/bridge/testing';
import { prngKey } from '@llm-modules/tensor';
import { main } from '../src/index.js';

const bridgeFixture = fileURLToPath(new URL('../../bridge/test/fixtures/bridge', import.meta.url));
const temps: string[] = [];
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});
async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

describe('llm-modules inspect on a bridge folder', () => {
  it('the released layout: variant, options and parameter counts per part', async () => {
    const r = await run('inspect', bridgeFixture, '--json');
    expect(r).toMatchObject({ code: 0, err: '' });
    const j = JSON.parse(r.out.trimEnd().split('\n').at(-1)!);
    expect(j).toMatchObject({
      kind: 'bridge',
      variant: 'paper-released',
      layout: 'released',
      causal: false,
      options: { layers: 2, heads: 4, adapterDim: 16, intermediateDim: 40 },
      parameters: { bridge: 24_584, student: 35_904, head: 2_880, total: 63_368 },
    });
    const text = await run('inspect', bridgeFixture);
    expect(text.code).toBe(0);
    expect(text.out).toContain('bridge       paper-released (released LLM-Modules layout)');
    expect(text.out).toContain('options      layers=2 heads=4 adapterDim=16 intermediateDim=40 dropout=0.1 causal=false');
    expect(text.out).toContain('parameters   bridge 24,584 (24.6K); student 35,904 (35.9K); head 2,880 (2.88K); total 63,368 (63.4K)');
    expect(text.out).toContain('sizes        teacher qwen2 48 (../qwen2-tied) → student gpt_neo 32 × 4 blocks → head 90');
  });

  it('a folder written by saveBridge (calm, causal): variant, options, counts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-bridge-'));
    temps.push(dir);
    const model = composeModel({ teacher: tinyTeacher(12), student: { model: tinyStudent(8) }, bridge: { variant: 'calm', options: { heads: 2, every: 1 } }, head: { vocabSize: 23 } });
    await saveBridge(dir, model, model.init(prngKey(0)), { teacherPath: '../teacher' });
    const r = await run('inspect', dir);
    expect(r.code).toBe(0);
    const c = model.parameterCounts();
    expect(r.out).toContain('bridge       calm (llm-modules layout) — CALM');
    expect(r.out).toContain('causal       yes (no future-token leak)');
    expect(r.out).toContain('options      every=1 layers=null heads=2 dropout=0 causal=true');
    expect(r.out).toContain(`parameters   bridge ${c.bridge.toLocaleString('en-US')}`);
    const j = JSON.parse((await run('inspect', dir, '--json')).out);
    expect(j.parameters).toEqual({ bridge: c.bridge, student: c.student, head: c.head, other: 0, total: c.trainable });
  });

  it('a broken bridge config: one line naming the file, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-bridge-'));
    temps.push(dir);
    const { writeFile, copyFile } = await import('node:fs/promises');
    await copyFile(join(bridgeFixture, 'bridge.safetensors'), join(dir, 'bridge.safetensors'));
    await writeFile(join(dir, 'bridge_config.json'), '{"format": 7}');
    const r = await run('inspect', dir);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`llm-modules: ${join(dir, 'bridge_config.json')}: unknown format 7 (expected "llm-modules-bridge/1")\n`);
  });
});
