// The model side of the page, in a module Web Worker (the page stays responsive, and the tensor backend may
// block in Atomics.wait here): pick a backend, load the demo's frozen teacher and tokenizer over HTTP, train the
// recipe (src/recipe.js, which the Node twin test runs too) with a step-by-step readout and a stop, score the
// held-out facts group by group, answer typed prompts, and hand the bridge folder out and take one back. Only
// browser entries are imported (the `browser` export condition), so nothing here touches a Node built-in.
import { httpFolder } from '@llm-modules/loaders';
import { pickBackend } from './backends.js';
import { answerPrompt, bridgeFolder, composeDemo, demoWorld, heldoutAccuracy, loadBridgeFolder, loadTeacher, RECIPE, trainRecipe } from './recipe.js';

let teacher;
let world; // the split of the last training's seed
let current; // { model, params, steps, source } — what answers prompts
let stop; // AbortController of the training or evaluation under way

async function load(base, wanted) {
  const { backend, chain } = await pickBackend(wanted);
  teacher = await loadTeacher(httpFolder(new URL('teacher/', base)));
  world = demoWorld(teacher, RECIPE.seed);
  const { train, validation, heldout } = world.split;
  postMessage({
    type: 'ready',
    backend,
    chain,
    isolated: self.crossOriginIsolated,
    teacher: `${teacher.config.model_type}, ${teacher.config.num_hidden_layers} layers, ${teacher.config.hidden_size} wide`,
    facts: { train: train.length, validation: validation.length, heldout: heldout.length },
    recipe: RECIPE,
  });
}

async function trainSteps(steps, seed) {
  world = demoWorld(teacher, seed);
  const model = composeDemo(world);
  stop = new AbortController();
  const t0 = performance.now();
  const post = (e) => postMessage({ type: 'step', step: e.step, loss: e.loss, tokensPerSecond: e.tokensPerSecond, seconds: (performance.now() - t0) / 1000 });
  const { params, steps: done, stopped } = await trainRecipe(world, model, { steps, onStep: post, signal: stop.signal });
  current = { model, params, steps: done, seed, source: `trained here, seed ${seed}` };
  postMessage({ type: 'trained', steps: done, stopped, seconds: (performance.now() - t0) / 1000 });
}

async function evaluateHeldout(count) {
  stop = new AbortController();
  const signal = stop.signal;
  const t0 = performance.now();
  const total = Math.min(count, world.split.heldout.length);
  postMessage({ type: 'progress', done: 0, right: 0, total });
  const onProgress = (p) => {
    postMessage({ type: 'progress', ...p });
    if (signal.aborted) throw Object.assign(new Error('evaluation stopped'), { progress: p });
  };
  try {
    const r = await heldoutAccuracy(world, current.model, current.params, { count: total, onProgress });
    postMessage({ type: 'evaluated', right: r.right, total: r.total, accuracy: r.accuracy, samples: r.samples.slice(0, 4), seconds: (performance.now() - t0) / 1000 });
  } catch (err) {
    if (!err.progress) throw err;
    postMessage({ type: 'evaluated', ...err.progress, stopped: true, seconds: (performance.now() - t0) / 1000 });
  }
}

/** Files picked on the page, by what they hold (a browser may rename a second download `bridge_config (1).json`). */
async function loadBridge(files) {
  const json = files.find((f) => f.name.endsWith('.json'));
  const weights = files.find((f) => f.name.endsWith('.safetensors'));
  if (!json || !weights) throw new Error('pick both files of a bridge folder: bridge_config.json and bridge.safetensors');
  const { model, params } = await loadBridgeFolder(teacher, { 'bridge_config.json': json, 'bridge.safetensors': weights });
  const { steps = null, seed = RECIPE.seed } = JSON.parse(await json.text());
  world = demoWorld(teacher, seed); // the held-out facts are those of the seed it was trained with
  current = { model, params, steps, seed, source: `loaded from ${json.name} + ${weights.name}` };
  postMessage({ type: 'bridge-loaded', steps, seed, source: current.source });
}

async function save() {
  const files = await bridgeFolder(current.model, current.params, current);
  postMessage({ type: 'files', files: [...files] }, [...files.values()].map((b) => b.buffer));
}

const needsModel = (type) => ['evaluate', 'answer', 'save'].includes(type) && !current;

self.onmessage = async ({ data }) => {
  if (data.type === 'stop') return stop?.abort();
  try {
    if (needsModel(data.type)) throw new Error('train a bridge first (or load a bridge folder)');
    if (data.type === 'load') await load(data.base, data.backend);
    else if (data.type === 'train') await trainSteps(data.steps, data.seed);
    else if (data.type === 'evaluate') await evaluateHeldout(data.count);
    else if (data.type === 'answer') postMessage({ type: 'answer', ...(await answerPrompt(world, current.model, current.params, data.prompt)), source: current.source });
    else if (data.type === 'save') await save();
    else if (data.type === 'load-bridge') await loadBridge(data.files);
  } catch (err) {
    postMessage({ type: 'error', during: data.type, message: err instanceof Error ? err.message : String(err), chain: err?.chain });
  }
};
