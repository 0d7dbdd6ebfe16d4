/** `inspect`'s parameter count leaves out buffers and a tied head's copy (golden numbers from the config by hand). */
import { describe, expect, test } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastJson, run } from './run.js';

/** A raw safetensors file of zero-filled F32 tensors (written by hand: independent of the code under test). */
function rawSafetensors(file: string, shapes: Record<string, number[]>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of Object.entries(shapes)) {
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), Buffer.alloc(offset)]));
}

// a GPT-Neo as Hugging Face exports it: vocab 96, hidden 32, 4 layers, intermediate 64, 64 positions
const V = 96, H = 32, L = 4, I = 64, P = 64;
function gptNeoFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-inspect-'));
  const config = { model_type: 'gpt_neo', vocab_size: V, hidden_size: H, num_layers: L, num_heads: 4, intermediate_size: I, max_position_embeddings: P, attention_types: [[['global', 'local'], 2]], window_size: 5 };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const shapes: Record<string, number[]> = { 'transformer.wte.weight': [V, H], 'transformer.wpe.weight': [P, H], 'transformer.ln_f.weight': [H], 'transformer.ln_f.bias': [H], 'lm_head.weight': [V, H] };
  for (let l = 0; l < L; l++) {
    const b = `transformer.h.${l}.`;
    for (const p of ['q_proj', 'k_proj', 'v_proj']) shapes[`${b}attn.attention.${p}.weight`] = [H, H];
    Object.assign(shapes, {
      [`${b}attn.attention.out_proj.weight`]: [H, H], [`${b}attn.attention.out_proj.bias`]: [H],
      [`${b}attn.attention.bias`]: [1, 1, P, P], [`${b}attn.attention.masked_bias`]: [],
      [`${b}ln_1.weight`]: [H], [`${b}ln_1.bias`]: [H], [`${b}ln_2.weight`]: [H], [`${b}ln_2.bias`]: [H],
      [`${b}mlp.c_fc.weight`]: [I, H], [`${b}mlp.c_fc.bias`]: [I], [`${b}mlp.c_proj.weight`]: [H, I], [`${b}mlp.c_proj.bias`]: [H],
    });
  }
  rawSafetensors(join(dir, 'model.safetensors'), shapes);
  return dir;
}

describe('inspect: parameters are parameters', () => {
  test('GPT-Neo attention-mask buffers and the tied lm_head are not counted', async () => {
    // wte 96·32 = 3072, wpe 64·32 = 2048, ln_f 64; per layer: q,k,v,out 4·1024 + out bias 32 + two norms 128
    // + c_fc 2048 + 64 + c_proj 2048 + 32 = 8448, × 4 layers = 33,792. Total 38,976.
    // Stored besides: 4 × (64·64 mask + 1 masked_bias) = 16,388 buffer values, and lm_head 3,072 (tied): 58,436 in all.
    const dir = gptNeoFolder();
    const r = await run('inspect', dir, '--json');
    expect(r.code).toBe(0);
    const report = lastJson(r.out);
    expect(report.parameter_count).toBe(38_976);
    expect(report.not_counted).toEqual({ buffers: { tensors: 8, values: 16_388 }, tied: { tensors: 1, values: 3_072 } });
    const text = await run('inspect', dir);
    expect(text.out).toMatch(/parameters\s+38,976 \(39\.0K\); not counted: 8 buffers \(16,388 values\), lm_head\.weight \(3,072 values, tied to the embedding\)/);
  });

  test('an untied lm_head is a parameter', async () => {
    const dir = gptNeoFolder();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt_neo', vocab_size: V, hidden_size: H, num_layers: L, num_heads: 4, intermediate_size: I, max_position_embeddings: P, attention_types: [[['global', 'local'], 2]], window_size: 5, tie_word_embeddings: false }));
    const report = lastJson((await run('inspect', dir, '--json')).out);
    expect(report.parameter_count).toBe(38_976 + 3_072);
  });
});
