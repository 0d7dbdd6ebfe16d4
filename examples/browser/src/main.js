// The page: controls, the backend chain, the live loss chart and the readouts. All model work happens in
// worker.js (a module Web Worker); this thread only draws. Every message from the worker is also kept in
// `window.__events` (with the page's clock), which the browser test reads.
import { lossChart } from './chart.js';

const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const chart = lossChart($('chart'));
const controls = ['train', 'evaluate', 'ask', 'save', 'bridge-files'];
let ready = false;
let haveModel = false;

/** Enable the controls that make sense now (`busy`: the worker is training or evaluating). */
function idle(busy = false) {
  for (const id of controls) $(id).disabled = busy || !ready || (id !== 'train' && id !== 'bridge-files' && !haveModel);
  $('stop').disabled = !busy;
}
const status = (text, error = false) => Object.assign($('status'), { textContent: text, className: `readout${error ? ' error' : ''}` });
const seconds = (s) => `${s.toFixed(1)} s`;
const SPLIT = { train: 'a fact traced in training', validation: 'a validation fact', heldout: 'a held-out fact' };

function showChain(chain = []) {
  const mark = { running: '✓', unavailable: '✗', 'passed over': '–', skipped: '·' };
  $('chain').replaceChildren(
    ...chain.map((e) => Object.assign(document.createElement('li'), { className: e.status.replace(' ', '-'), textContent: `${mark[e.status]} ${e.name} (${e.label}) — ${e.status}: ${e.why}` })),
  );
}

const handlers = {
  ready(d) {
    ready = true;
    showChain(d.chain);
    const f = d.facts;
    status(`ready on ${d.backend}: teacher ${d.teacher}; facts: ${f.train} traced for training, ${f.validation} validation, ${f.heldout} held out`);
    idle();
  },
  step(d) {
    chart.push(d.step, d.loss);
    $('speed').textContent = `step ${d.step}: loss ${d.loss.toFixed(3)}, ${Math.round(d.tokensPerSecond)} loss tokens/s, ${seconds(d.seconds)}`;
  },
  trained(d) {
    haveModel = true;
    const done = `${d.stopped ? 'stopped' : 'trained'} after ${d.steps} steps in ${seconds(d.seconds)}`;
    if (!$('auto-eval').checked) return status(`${done}: ask it something`), idle();
    status(`${done}; scoring the held-out facts…`);
    idle(true);
    worker.postMessage({ type: 'evaluate', count: Number($('heldout').value) });
  },
  progress(d) {
    const pct = d.done ? ` (${((100 * d.right) / d.done).toFixed(1)} %)` : '';
    $('accuracy').textContent = `${d.right} of ${d.done} right${pct}; ${d.done} of ${d.total} scored`;
  },
  evaluated(d) {
    $('accuracy').textContent = `${d.right} of ${d.done ?? d.total} right (${((100 * d.right) / (d.done ?? d.total)).toFixed(1)} %)${d.stopped ? `, stopped after ${d.done} of ${d.total}` : ''} in ${seconds(d.seconds)}`;
    status(`ready: ask it something`);
    idle();
  },
  answer(d) {
    const truth = d.expected === null ? '' : d.answer === d.expected ? ' (right)' : ` (the fact: ${d.expected})`;
    $('answer').textContent = `${d.prompt}${d.text}  →  ${d.answer ?? '(no A: answer)'}${truth}  [${SPLIT[d.split] ?? d.split}; ${d.source}; ${seconds(d.at / 1000)} after the page opened]`;
    idle();
  },
  files(d) {
    // one download link per file: a bridge folder that `llm-modules generate --model` reads next to the teacher
    const link = ([name, bytes]) => Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([bytes])), download: name, textContent: `${name} (${bytes.byteLength.toLocaleString('en-US')} bytes) ` });
    $('files').replaceChildren(...d.files.map(link));
    idle();
  },
  'bridge-loaded'(d) {
    haveModel = true;
    status(`answering with the bridge ${d.source}${d.steps ? ` (${d.steps} steps)` : ''}`);
    idle();
  },
  error(d) {
    if (d.chain) showChain(d.chain);
    status(`error (${d.during}): ${d.message}`, true);
    idle();
  },
};

worker.onmessage = ({ data }) => {
  data.at = performance.now(); // ms since the page opened
  (window.__events ??= []).push(data);
  handlers[data.type]?.(data);
};
worker.onerror = (e) => status(`the worker failed: ${e.message}`, true);

$('train').onclick = () => {
  chart.reset();
  $('accuracy').textContent = $('speed').textContent = '';
  status('training…');
  idle(true);
  worker.postMessage({ type: 'train', steps: Number($('steps').value), seed: Number($('seed').value) });
};
$('stop').onclick = () => {
  $('stop').disabled = true;
  worker.postMessage({ type: 'stop' });
};
$('evaluate').onclick = () => {
  idle(true);
  worker.postMessage({ type: 'evaluate', count: Number($('heldout').value) });
};
$('ask').onclick = () => {
  idle(true);
  worker.postMessage({ type: 'answer', prompt: $('prompt').value });
};
$('prompt').onkeydown = (e) => e.key === 'Enter' && !$('ask').disabled && $('ask').click();
$('save').onclick = () => {
  idle(true);
  worker.postMessage({ type: 'save' });
};
$('bridge-files').onchange = (e) => {
  const files = [...e.target.files];
  if (!files.length) return;
  idle(true);
  worker.postMessage({ type: 'load-bridge', files });
};
// the world's files are relative to the page (vite serves examples/knowledge-transfer as public files)
worker.postMessage({ type: 'load', base: new URL('./', location.href).href, backend: new URLSearchParams(location.search).get('backend') });
