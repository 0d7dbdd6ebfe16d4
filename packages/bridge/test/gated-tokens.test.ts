/**
 * `gated-tokens` keeps the student's own token stream: it passes the conformance suite (with one teacher state and
 * with two), starts as exactly the student alone on its own tokens, and reads the teacher layers it names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type GPTNeoConfig } from '@llm-modules/loaders';
import { full, prngKey, setBackend, tensor } from '@llm-modules/tensor';
import { gptNeo } from '@llm-modules/transformer';
import { composeModel, gatedTokens } from '../src/index.js';
import { describeBridgeConformance, tinyTeacher } from '../src/testing.js';

describeBridgeConformance(gatedTokens, { options: { heads: 2 } });
describeBridgeConformance(gatedTokens, { options: { heads: 2, layers: [1], teacherLayers: [0, -1] } });
describeBridgeConformance(gatedTokens, { options: { heads: 2, alignedInput: false } });

beforeAll(() => setBackend('cpu'));

const VOCAB = 23; // the tiny teacher's vocabulary
const Dt = 12;
const Ds = 8;

/** A complete 2-block GPT-Neo over the teacher's vocabulary, its head tied to its token embeddings. */
const studentAlone = () =>
  gptNeo(parseConfig({
    model_type: 'gpt_neo', vocab_size: VOCAB, hidden_size: Ds, num_layers: 2, num_heads: 2, intermediate_size: 2 * Ds,
    max_position_embeddings: 16, attention_types: [[['global', 'local'], 1]], window_size: 2, initializer_range: 0.2, tie_word_embeddings: true,
  }) as GPTNeoConfig);

function composed(options: Record<string, unknown> = {}) {
  const student = studentAlone();
  return composeModel({ teacher: tinyTeacher(Dt), student: { model: student }, bridge: { variant: gatedTokens, options: { heads: 2, ...options } }, head: { vocabSize: VOCAB } });
}

const ids = tensor(new Int32Array([3, 17, 8, 11, 0, 21, 5, 14, 2, 9]), [2, 5], 'int32');
const mask = tensor(new Int32Array([1, 1, 1, 1, 0, 1, 1, 1, 1, 1]), [2, 5], 'int32');

describe('gated-tokens', () => {
  it('at init (gates 0) the composed model is the student alone: its own tokens, the head as tied token table', async () => {
    const model = composed();
    const params = model.init(prngKey(3));
    // the reference runs the plain GPT-Neo model, whose token table and tied head are the composed model's head
    const studentParams = Object.fromEntries([...model.student.parameterShapes().keys()].map((n) => [n, params[model.names.student + n]]));
    // learned positions start at 0 in the composed model; give them values so the comparison covers them
    studentParams['transformer.wpe.weight'] = full([16, Ds], 0.3);
    const all = { ...params, [model.names.student + 'transformer.wpe.weight']: studentParams['transformer.wpe.weight'] };
    const reference = studentAlone().apply({ ...studentParams, 'transformer.wte.weight': params[model.names.head] }, ids, { attentionMask: mask }).logits;
    const mine = model.apply(all, ids, { attentionMask: mask }).logits;
    const [a, b] = [await mine.data(), await reference.data()];
    expect(a.length).toBe(2 * 5 * VOCAB);
    let worst = 0;
    a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[i]))));
    expect(worst).toBeLessThan(1e-5);

    // a gate opened: the teacher now moves the logits (the equality above is not vacuous)
    expect(await params[model.names.bridge + 'input_gate'].data()).toEqual(new Float32Array([0]));
    const gates = Object.keys(params).filter((n) => n.endsWith('.gate'));
    expect(gates.map((n) => n.slice(model.names.bridge.length))).toEqual(['hooks.0.gate', 'hooks.1.gate']);
    const opened = model.apply({ ...all, [gates[0]]: full([1], 0.5) }, ids, { attentionMask: mask }).logits;
    const c = await opened.data();
    expect(Math.max(...Array.from(c, (v, i) => Math.abs(v - b[i])))).toBeGreaterThan(1e-3);
  });

  it('teacherLayers [0, −1]: the bridge reads the teacher embeddings and the last hidden state side by side', async () => {
    const model = composed({ teacherLayers: [0, -1] });
    const teacher = model.teacher;
    const states = model.teacherStates(ids, { attentionMask: mask }).states;
    expect(states.shape).toEqual([2, 5, 2 * Dt]);
    expect([model.teacherLayers, model.teacherWidth]).toEqual([[0, 1], 2 * Dt]); // −1 is after the 1-block teacher's final norm
    const got = await states.data();
    // independent expectation: hidden state 0 is the embedding row of each token; the last is the teacher's own output
    const table = await teacher.params['model.embed_tokens.weight'].data();
    const last = await teacher.model.apply(teacher.params, ids, { attentionMask: mask }).lastHiddenState.data();
    const idList = [3, 17, 8, 11, 0, 21, 5, 14, 2, 9];
    idList.forEach((id, p) => {
      for (let d = 0; d < Dt; d++) {
        expect(got[p * 2 * Dt + d]).toBe(table[id * Dt + d]);
        expect(got[p * 2 * Dt + Dt + d]).toBeCloseTo(last[p * Dt + d], 5);
      }
    });
    expect(model.parameterCounts().bridge).toBe(composed({ teacherLayers: null }).parameterCounts().bridge + 2 * 2 * Dt * Ds + Dt * Ds + 2 * Dt); // k/v of 2 hooks and input_proj read 2·Dt; a second norm
  });

  it('names what is wrong: forward without the token ids, a teacher layer the teacher lacks', () => {
    const model = composed();
    const params = model.init(prngKey(0));
    const H = model.teacherStates(ids).states;
    expect(() => model.forward(params, H)).toThrow(/reads its own tokens; pass inputIds/);
    expect(() => composed({ teacherLayers: [2] })).toThrow(/teacher layer 2 is not one of the teacher's hidden states 0…1/);
  });
});
