/**
 * The paper configuration as shipped: the train configs follow the research note's recipe, the stand-in configs
 * differ from it only where running on this machine needs it, and the model configs have the paper's sizes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { composeModel } from '@llm-modules/bridge';
import { loadConfig, loadTokenizer } from '@llm-modules/loaders';
import { readTrainConfig } from '@llm-modules/trainer';
import { createModel } from '@llm-modules/transformer';

const here = fileURLToPath(new URL('.', import.meta.url));
const json = (f: string) => JSON.parse(readFileSync(join(here, f), 'utf8'));
const count = (shapes: ReadonlyMap<string, readonly number[]>) => [...shapes.values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

describe('examples/qwen2-gptneo configs', () => {
  it('every train config passes the schema', async () => {
    const files = readdirSync(here).filter((f) => f.endsWith('.train.json'));
    expect(files.sort()).toEqual(['gated-tokens.train.json', 'paper-released.train.json', 'paper.train.json', 'standin-live-2048.train.json', 'standin-live.train.json', 'standin.train.json']);
    for (const f of files) await expect(readTrainConfig(join(here, f))).resolves.toMatchObject({ mode: 'bridge' });
  });

  it('paper.train.json is the released recipe (research note), with the leak and the missing EOS fixed', () => {
    const c = json('paper.train.json');
    expect(c.bridge).toEqual({ variant: 'enhanced', options: { layers: 2, heads: 8, adapterDim: 256, dropout: 0.1, causal: true }, dims: { teacher: 1536, student: 768 } });
    expect(c.head).toEqual({ vocabSize: 'tokenizer' });
    expect(c.data).toMatchObject({ format: 'paper', lossOn: 'all', appendEos: true, maxLength: 4096, overLength: 'drop', cutTo: 2048, subset: 0.3, validationFraction: 0.1 });
    expect(c.optimizer).toEqual({ name: 'adamw', lr: 1e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, schedule: { kind: 'constant' }, groups: [{ prefix: 'gptneo.', lr: 5e-5 }] });
    expect(c.training).toMatchObject({ epochs: 15, batchSize: 1, clipNorm: 1, earlyStopping: { patience: 5, minDelta: 1e-4 } });
    // the faithful one differs only in the bridge (non-causal) and in never appending EOS
    const r = json('paper-released.train.json');
    expect(r.bridge.variant).toBe('paper-released');
    expect({ ...r, bridge: c.bridge, data: { ...r.data, appendEos: true }, output: c.output }).toEqual(c);
  });

  it('the stand-in configs change only paths, lengths and steps', () => {
    const c = json('paper.train.json');
    for (const [f, maxLength] of [['standin.train.json', 512], ['standin-live.train.json', 512], ['standin-live-2048.train.json', 2048]] as const) {
      const s = json(f);
      expect(s.bridge).toEqual(c.bridge);
      expect(s.head).toEqual(c.head);
      expect(s.model).toEqual(c.model);
      expect(s.optimizer).toEqual(c.optimizer);
      expect(s.data).toMatchObject({ format: 'paper', lossOn: 'all', appendEos: true, maxLength });
      expect(s.training).toMatchObject({ batchSize: 1, clipNorm: 1 });
    }
    expect(json('standin.train.json').teacherCache).toEqual(expect.any(String));
    expect(json('standin-live.train.json').teacherCache).toBeUndefined();
    expect(json('standin-live-2048.train.json').teacherCache).toBeUndefined();
  });

  it('the model configs and tokenizer have the paper sizes (research note: Qwen2 1.54 B, bridge 16.4 M, blocks 85.0 M, wpe 1.6 M, head 116.5 M)', async () => {
    const qwen = await loadConfig(join(here, 'configs/qwen2-1.5b'));
    const neo = await loadConfig(join(here, 'configs/gpt-neo-125m'));
    const tok = await loadTokenizer(join(here, 'tokenizer'));
    expect(tok.vocabSize).toBe(151_646);
    const teacher = createModel(qwen);
    expect(count(teacher.parameterShapes())).toBe(1_543_714_304); // Qwen2-1.5B, tied embeddings
    const model = composeModel({ teacher: { model: teacher, params: {} }, bridge: { variant: 'enhanced' }, student: { model: createModel(neo) }, head: { vocabSize: tok.vocabSize } });
    const p = model.parameterCounts();
    expect(p.bridge / 1e6).toBeCloseTo(16.4, 1);
    expect(p.head / 1e6).toBeCloseTo(116.5, 1);
    const wpe = model.trainableParams.get('gptneo.base_model.transformer.wpe.weight')!;
    expect(wpe).toEqual([2048, 768]);
    expect((p.student - 2048 * 768) / 1e6).toBeCloseTo(85.0, 1);
  });

  it('gated-tokens.train.json is the paper recipe with the student keeping its tokens, plus distillation; its size at paper scale', async () => {
    const c = json('paper.train.json');
    const g = json('gated-tokens.train.json');
    expect(g.bridge).toEqual({ variant: 'gated-tokens', options: { heads: 12, every: 2, dropout: 0.1, causal: true }, dims: { teacher: 1536, student: 768 } });
    expect(g.training.kd).toEqual({ weight: 1, temperature: 2, weighting: 'label-probability' });
    expect(g.teacherCache).toBeUndefined(); // distillation reads the teacher's logits: it runs in every step
    const { kd: _kd, ...training } = g.training;
    expect({ ...g, bridge: c.bridge, training, output: c.output }).toEqual(c);
    const teacher = createModel(await loadConfig(join(here, 'configs/qwen2-1.5b')));
    const student = createModel(await loadConfig(join(here, 'configs/gpt-neo-125m')));
    const model = composeModel({ teacher: { model: teacher, params: {} }, bridge: { variant: 'gated-tokens', options: g.bridge.options }, student: { model: student }, head: { vocabSize: 151_646 } });
    const p = model.parameterCounts();
    // by hand (README): a hook after blocks 1, 3, 5, 7, 9, 11, each LayerNorm(768) + q, out 768→768 + k, v 1536→768 (with
    // biases) + a gate: 1,536 + 2·590,592 + 2·1,180,416 + 1 = 3,543,553; the teacher state's LayerNorm(1536) 3,072;
    // the aligned input 1536→768 + its gate 1,180,417
    expect(p.bridge).toBe(6 * 3_543_553 + 3_072 + 1_180_417); // 22,444,807
    expect(p.head).toBe(151_646 * 768); // 116,464,128: also the student's token table (tied)
    expect(p.student).toBe(12 * 7_085_568 + 2048 * 768 + 2 * 768); // blocks, wpe, ln_f: 86,601,216
    expect(p.trainable).toBe(225_510_151); // the paper's enhanced recipe: 219.5 M (its bridge 16.4 M)
  });
});
