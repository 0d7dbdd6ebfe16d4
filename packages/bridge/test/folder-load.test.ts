/** loadBridgeFrom (browser entry): a bridge folder's files as bytes give loadBridge's model and golden logits. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { filesFolder } from '@llm-modules/loaders';
import { evaluate, setBackend } from '@llm-modules/tensor';
import { BRIDGE_CONFIG_FILE, BRIDGE_WEIGHTS_FILE, bridgeFiles, loadBridgeFrom } from '../src/index.js';
import { saveBridge } from '../src/node.js';
import { fixture, golden, ints, loadTeacher, maxDiffValid } from './fixture.js';

beforeAll(() => setBackend('cpu'));

const files = async () =>
  new Map([BRIDGE_CONFIG_FILE, BRIDGE_WEIGHTS_FILE].map((f) => [f, readFile(join(fixture('bridge'), f))] as const));

describe('loadBridgeFrom', () => {
  it('the released fixture from bytes reproduces the golden logits', async () => {
    const map = new Map<string, Uint8Array>();
    for (const [f, p] of await files()) map.set(f, new Uint8Array(await p));
    const { model, params, config } = await loadBridgeFrom(map, { teacher: await loadTeacher() });
    expect(config.variant).toBe('paper-released');
    const g = golden(false);
    const logits = model.apply(params, ints(g.input_ids), { attentionMask: ints(g.attention_mask) }).logits;
    await evaluate(logits);
    const d = maxDiffValid(await logits.data(), g.logits, g.attention_mask);
    expect(d.maxAbs).toBeLessThanOrEqual(5e-5 * d.maxRef);
  });

  it('without its weights file, or without a teacher, is one line naming the folder', async () => {
    const cfg = new Uint8Array(await readFile(join(fixture('bridge'), BRIDGE_CONFIG_FILE)));
    await expect(loadBridgeFrom(filesFolder({ [BRIDGE_CONFIG_FILE]: cfg }, 'run'), { teacher: await loadTeacher() })).rejects.toThrow(`run/${BRIDGE_WEIGHTS_FILE}: no such file`);
    await expect(loadBridgeFrom(filesFolder({}, 'run'), undefined as never)).rejects.toThrow('run: loading a bridge from files needs its teacher: pass { teacher }');
  });
});

describe('bridgeFiles', () => {
  it('are the bytes saveBridge writes, and load back with loadBridgeFrom', async () => {
    const teacher = await loadTeacher();
    const map = new Map<string, Uint8Array>();
    for (const [f, p] of await files()) map.set(f, new Uint8Array(await p));
    const { model, params } = await loadBridgeFrom(map, { teacher });
    const made = await bridgeFiles(model, params, { teacherPath: '../teacher', extra: { steps: 3 } });
    const dir = await mkdtemp(join(tmpdir(), 'bridge-files-'));
    try {
      await saveBridge(dir, model, params, { teacherPath: '../teacher', extra: { steps: 3 } });
      for (const f of [BRIDGE_CONFIG_FILE, BRIDGE_WEIGHTS_FILE]) expect(Buffer.from(made.get(f)!).equals(await readFile(join(dir, f)))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const back = await loadBridgeFrom(made, { teacher });
    expect(back.config.layout).toBe('llm-modules');
    for (const [name, t] of Object.entries(params)) expect(Array.from(await back.params[name].data())).toEqual(Array.from(await t.data()));
  });
});

