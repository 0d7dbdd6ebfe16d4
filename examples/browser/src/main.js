// The page: buttons and a log. All model work happens in worker.js (a module Web Worker), so the page
// stays responsive and the tensor backend may block in Atomics.wait there.
const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const log = (line) => ($('log').textContent += `${line}\n`);

worker.onmessage = ({ data }) => {
  if (data.type === 'ready') {
    $('status').textContent = `ready: backend ${data.backend} (working here: ${data.available.join(', ')}), cross-origin isolated ${data.isolated}, teacher ${data.teacher}`;
    $('train').disabled = $('ask').disabled = false;
  } else if (data.type === 'step') log(`step ${data.step}  loss ${data.loss.toFixed(4)}`);
  else if (data.type === 'trained') {
    $('status').textContent = `trained ${data.steps} steps in ${data.seconds.toFixed(1)} s`;
    $('train').disabled = $('ask').disabled = $('save').disabled = false;
  } else if (data.type === 'answer') {
    $('answer').textContent = data.text;
    $('ask').disabled = false;
  } else if (data.type === 'files') {
    // one download link per file: a bridge folder that `llm-modules generate --model` reads next to the teacher
    $('files').replaceChildren(...data.files.map(([name, bytes]) => Object.assign(document.createElement('a'), { href: URL.createObjectURL(new Blob([bytes])), download: name, textContent: `${name} (${bytes.byteLength} bytes) ` })));
    $('save').disabled = false;
  } else if (data.type === 'error') {
    $('status').textContent = `error: ${data.message}`;
    $('train').disabled = $('ask').disabled = false;
  }
  // the smoke test reads the same messages
  (window.__events ??= []).push(data);
};

$('train').onclick = () => {
  $('train').disabled = $('ask').disabled = true;
  worker.postMessage({ type: 'train', steps: Number($('steps').value) });
};
$('save').onclick = () => {
  $('save').disabled = true;
  worker.postMessage({ type: 'save' });
};
$('ask').onclick = () => {
  $('ask').disabled = true;
  worker.postMessage({ type: 'answer', prompt: $('prompt').value });
};
// the world's files are relative to the page (vite serves examples/knowledge-transfer as public files)
worker.postMessage({ type: 'load', base: new URL('./', location.href).href, backend: new URLSearchParams(location.search).get('backend') });
