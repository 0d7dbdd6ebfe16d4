// The model side of the page, in a module Web Worker: load the demo's frozen teacher and tokenizer over
// HTTP, compose a causal `enhanced` bridge into a small GPT-Neo student, train it on the demo's facts with a
// loss readout, answer prompts, and hand the trained bridge folder back as files. Only browser entries are imported (the bundler picks them by the
// `browser` export condition), so nothing here touches a Node built-in.
import { bridgeFiles, composeModel, generateComposed } from '@llm-modules/bridge';
import { httpFolder, parseConfig } from '@llm-modules/loaders';
import { initBackend, isBackendAvailable, listBackends, mulberry32, prngKey, setBackend } from '@llm-modules/tensor';
import { adamw, collate, initialState, train } from '@llm-modules/trainer';
import { causalLMLoss, createModel, loadPretrainedFrom } from '@llm-modules/transformer';

const MAX_LENGTH = 48;
const BATCH = 16;
let world; // { teacher, tokenizer, examples, eos }
let composed; // { model, state, optimizer }

/** The student (the CLI demo's bridge.train.json sizes) over the teacher's vocabulary. */
function studentConfig(vocab, eos) {
  return parseConfig(
    { model_type: 'gpt_neo', vocab_size: vocab, hidden_size: 48, num_layers: 2, num_heads: 4, intermediate_size: 96,
      max_position_embeddings: 64, window_size: 16, attention_types: [[['global', 'local'], 1]], bos_token_id: eos, eos_token_id: eos },
    'browser demo student',
  );
}

/** The backend asked for (`?backend=webgpu` on the page), else the first that works here. */
async function pickBackend(wanted) {
  if (!wanted) return initBackend();
  if (!(await isBackendAvailable(wanted))) throw new Error(`backend "${wanted}" does not work here (working: ${(await listBackends()).join(', ')})`);
  setBackend(wanted);
  return wanted;
}

async function load(base, wanted) {
  const backend = await pickBackend(wanted);
  const teacher = await loadPretrainedFrom(httpFolder(new URL('teacher/', base)));
  const tokenizer = teacher.tokenizer;
  if (!tokenizer) throw new Error(`${base}teacher/: no tokenizer files`);
  const res = await fetch(new URL('facts.jsonl', base));
  if (!res.ok) throw new Error(`${res.url}: HTTP ${res.status}`);
  const eos = teacher.config.eos_token_id ?? tokenizer.eosTokenId;
  const examples = (await res.text())
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => [...tokenizer.encode(JSON.parse(l).text), eos].slice(0, MAX_LENGTH))
    .map((ids) => ({ inputIds: ids, lossMask: ids.map(() => 1) }));
  world = { teacher, tokenizer, examples, eos };
  const model = composeModel({
    teacher: { model: teacher.model, params: teacher.params },
    student: { model: createModel(studentConfig(teacher.config.vocab_size, eos)) },
    // causal: a position's bridge reads only the teacher states up to itself, as generation needs
    bridge: { variant: 'enhanced', options: { layers: 1, heads: 4, adapterDim: 32, dropout: 0, causal: true } },
    head: { vocabSize: teacher.config.vocab_size },
  });
  const optimizer = adamw({ lr: 3e-3 });
  composed = { model, optimizer, state: initialState(model.init(prngKey(3)), optimizer) };
  postMessage({ type: 'ready', backend, available: await listBackends(), isolated: self.crossOriginIsolated, teacher: `${teacher.config.model_type}, ${examples.length} facts` });
}

async function trainSteps(steps) {
  const { model, optimizer } = composed;
  const rand = mulberry32(composed.state.step + 1);
  const pick = () => Array.from({ length: BATCH }, () => world.examples[Math.floor(rand() * world.examples.length)]);
  const loss = (params, b) => causalLMLoss(model.apply(params, b.inputIds, { attentionMask: b.attentionMask }).logits, b.labels);
  const t0 = performance.now();
  composed.state = await train(composed.state, {
    loss,
    optimizer,
    batches: function* () {
      for (let s = 0; s < steps; s++) yield collate(pick(), world.eos);
    },
    maxSteps: composed.state.step + steps,
    clipNorm: 1,
    observers: [(e) => e.type === 'step' && postMessage({ type: 'step', step: e.step, loss: e.loss })],
  });
  postMessage({ type: 'trained', steps: composed.state.step, seconds: (performance.now() - t0) / 1000 });
}

async function answer(prompt) {
  const ids = world.tokenizer.encode(prompt);
  const { sequences } = await generateComposed(composed.model, composed.state.params, ids, { maxNewTokens: 8, stopTokens: [world.eos] });
  const text = world.tokenizer.decode(sequences[0].filter((t) => t !== world.eos));
  postMessage({ type: 'answer', prompt, text: text.split(' ')[0] });
}

/** The trained bridge folder (bridge_config.json + bridge.safetensors), for the page to offer as downloads. */
async function save() {
  const files = await bridgeFiles(composed.model, composed.state.params, { teacherPath: '../teacher', extra: { steps: composed.state.step } });
  postMessage({ type: 'files', files: [...files] }, [...files.values()].map((b) => b.buffer));
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === 'load') await load(data.base, data.backend);
    else if (data.type === 'train') await trainSteps(data.steps);
    else if (data.type === 'answer') await answer(data.prompt);
    else if (data.type === 'save') await save();
  } catch (err) {
    postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  }
};
