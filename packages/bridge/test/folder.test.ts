/** Bridge folders: the released layout loads by name, ours round-trips, `describeBridgeFolder` reads headers only. */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoaderError, writeSafetensors } from '@llm-modules/loaders';
import { evaluate, setBackend } from '@llm-modules/tensor';
import { BRIDGE_FORMAT, describeBridgeFolder, isBridgeFolder, loadBridge, saveBridge } from '../src/node.js';
import { fixture, fixtureModel, fixtureParams, golden, ints, loadTeacher, maxDiffValid } from './fixture.js';

const temps: string[] = [];
const temp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'bridge-folder-'));
  temps.push(d);
  return d;
};
beforeAll(() => setBackend('cpu'));
afterAll(async () => {
  for (const d of temps) await rm(d, { recursive: true, force: true });
});

describe('the released layout (the fixture folder)', () => {
  it('is described from its headers: variant, options, sizes and parameter counts per part', async () => {
    expect(await isBridgeFolder(fixture('bridge'))).toBe(true);
    const s = await describeBridgeFolder(fixture('bridge'));
    expect(s).toMatchObject({
      layout: 'released',
      variant: 'paper-released',
      causal: false,
      options: { layers: 2, heads: 4, adapterDim: 16, intermediateDim: 40, causal: false },
      dims: { teacher: 48, student: 32, studentLayers: 4 },
      teacher: { model_type: 'qwen2', path: '../qwen2-tied' },
      student: { model_type: 'gpt_neo', layers: 4, hidden_size: 32 },
      head: { vocab_size: 90 },
      parameters: { bridge: 24_584, student: 35_904, head: 2_880, other: 0, total: 63_368 },
      tensors: { bridge: 52, student: 55, head: 1, other: 0, total: 108 },
    });
    expect(s.description).toMatch(/padding-only mask/);
  });

  it('loads by name into the composed model and reproduces the golden logits (causal=false, the released mask)', async () => {
    const { model, params, config } = await loadBridge(fixture('bridge'), { teacher: await loadTeacher() });
    expect(config.layout).toBe('released');
    expect(model.bridge.name).toBe('paper-released');
    const g = golden(false);
    const logits = model.apply(params, ints(g.input_ids), { attentionMask: ints(g.attention_mask) }).logits;
    await evaluate(logits);
    const d = maxDiffValid(await logits.data(), g.logits, g.attention_mask);
    expect(d.maxAbs).toBeLessThanOrEqual(5e-5 * d.maxRef);
  });
});

describe('our layout', () => {
  it('saveBridge → loadBridge (teacher found through the relative teacher path): same parameters and logits', async () => {
    const dir = await temp();
    const model = await fixtureModel(true);
    const params = await fixtureParams();
    await saveBridge(dir, model, params, { teacherPath: relative(dir, fixture('models/qwen2-tied')), extra: { epoch: 3 } });
    const config = JSON.parse(await readFile(join(dir, 'bridge_config.json'), 'utf8'));
    expect(config).toMatchObject({ format: BRIDGE_FORMAT, variant: 'enhanced', causal: true, options: { heads: 4, adapterDim: 16, layers: 2, causal: true }, head: { vocab_size: 90 }, epoch: 3 });
    const loaded = await loadBridge(dir);
    const g = golden(true);
    const [a, b] = [model.apply(params, ints(g.input_ids), { attentionMask: ints(g.attention_mask) }).logits, loaded.model.apply(loaded.params, ints(g.input_ids), { attentionMask: ints(g.attention_mask) }).logits];
    await evaluate(a, b);
    expect(await b.data()).toEqual(await a.data());
    const s = await describeBridgeFolder(dir);
    expect(s).toMatchObject({ layout: 'llm-modules', variant: 'enhanced', causal: true, parameters: { bridge: 24_584, student: 35_904, head: 2_880, total: 63_368 } });
  });
});

describe('bad folders: one-line errors naming the file and the problem', () => {
  it('a tensor missing, one unexpected, one mis-shaped', async () => {
    const dir = await temp();
    await copyFile(fixture('bridge/bridge_config.json'), join(dir, 'bridge_config.json'));
    const params = await fixtureParams();
    delete params['qwen.proj.bias'];
    params['extra.weight'] = params['qwen.pre_proj.bias'];
    params['gptneo.new_lm_head.weight'] = params['qwen.pre_proj.weight'];
    await writeSafetensors(join(dir, 'bridge.safetensors'), params);
    const err = await loadBridge(dir, { teacher: await loadTeacher() }).catch((e) => e);
    expect(err).toBeInstanceOf(LoaderError);
    expect(err.message).toBe(`${join(dir, 'bridge.safetensors')}: does not match the "paper-released" bridge: missing 1: qwen.proj.bias; unexpected 1: extra.weight; mis-shaped 1: gptneo.new_lm_head.weight [48, 48]`);
  });

  it('malformed JSON, an unknown format, an unknown variant, no teacher', async () => {
    const dir = await temp();
    await mkdir(dir, { recursive: true });
    const cfg = join(dir, 'bridge_config.json');
    await writeFile(cfg, '{ nope');
    await expect(describeBridgeFolder(dir)).rejects.toThrow(new RegExp(`^${cfg}: not valid JSON`));
    await writeFile(cfg, JSON.stringify({ format: 'other/2' }));
    await expect(loadBridge(dir)).rejects.toThrow(`${cfg}: unknown format "other/2" (expected "${BRIDGE_FORMAT}")`);
    const ours = { format: BRIDGE_FORMAT, variant: 'nope', options: {}, dims: { teacher: 48, student: 32, studentLayers: 4 }, head: { vocab_size: 90 }, student: { config: { model_type: 'gpt_neo' } } };
    await writeFile(cfg, JSON.stringify(ours));
    await expect(loadBridge(dir)).rejects.toThrow(`${cfg}: bridge variant "nope" is not registered (known: enhanced, paper-released, flamingo, calm, gated-tokens, plain, linear`);
    await writeFile(cfg, JSON.stringify({ ...ours, variant: 'enhanced' }));
    await expect(loadBridge(dir)).rejects.toThrow(`${dir}: the bridge config names no teacher folder: pass { teacher }`);
  });
});
