// The page's backend chain, tried in order in its Web Worker: WebGPU, WebGL2, WebAssembly with threads, WebAssembly,
// JavaScript. Each one that is passed over says why (what the worker found missing), so the page can show it. A GPU
// that is a software renderer (Chromium's SwiftShader without a GPU, Mesa's llvmpipe) is passed over too: measured
// in headless Chromium on 2 cores, a training step takes ~3 s on SwiftShader's WebGPU and 8–25 s on its WebGL2
// against ~0.1 s on WebAssembly threads. `?backend=webgpu` runs one anyway.
import { isBackendAvailable, setBackend } from '@llm-modules/tensor';

export const CHAIN = ['webgpu', 'webgl2', 'threads', 'webasm', 'cpu'];

const LABEL = { webgpu: 'WebGPU', webgl2: 'WebGL2', threads: 'WebAssembly + threads', webasm: 'WebAssembly', cpu: 'JavaScript' };

const SOFTWARE = /swiftshader|llvmpipe|lavapipe|softpipe|software/i;

/** The WebGPU adapter's own words (vendor, architecture, description: "SwiftShader" on Chromium's software adapter). */
async function adapterInfo() {
  const adapter = await navigator.gpu.requestAdapter().catch(() => null);
  if (!adapter) return null;
  const info = adapter.info ?? {};
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(', ') || 'an adapter that gives no name';
}

/** The WebGL2 renderer's name (unmasked where the browser tells it), or null without a WebGL2 context. */
function webgl2Renderer() {
  const gl = typeof OffscreenCanvas === 'undefined' ? null : new OffscreenCanvas(1, 1).getContext('webgl2');
  if (!gl) return null;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

/**
 * Why backend `name` is not used in this worker — `unavailable` (missing here) or `passed over` (a software GPU,
 * unless the page named it: `asked`) with one line — or null when it can run.
 */
async function whyNot(name, asked) {
  if (name === 'webgpu') {
    if (!('gpu' in navigator)) return { status: 'unavailable', why: 'no navigator.gpu: this browser does not expose WebGPU here (Chromium on Linux: --enable-unsafe-webgpu)' };
    const info = await adapterInfo();
    if (!info) return { status: 'unavailable', why: 'navigator.gpu.requestAdapter() found no adapter' };
    if (!asked && SOFTWARE.test(info)) return { status: 'passed over', why: `the adapter is a software renderer (${info}), slower here than WebAssembly (?backend=webgpu runs it)` };
  }
  if (name === 'webgl2') {
    if (typeof OffscreenCanvas === 'undefined') return { status: 'unavailable', why: 'no OffscreenCanvas in a Web Worker' };
    const renderer = webgl2Renderer();
    if (!renderer) return { status: 'unavailable', why: 'no WebGL2 context (the GPU is blocked or disabled)' };
    if (!asked && SOFTWARE.test(renderer)) return { status: 'passed over', why: `the renderer is software (${renderer}), slower here than WebAssembly (?backend=webgl2 runs it)` };
  }
  if ((name === 'threads' || name === 'webasm') && !self.crossOriginIsolated) {
    return { status: 'unavailable', why: 'the page is not cross-origin isolated (COOP/COEP headers): no SharedArrayBuffer, which the WebAssembly kernels need' };
  }
  if (!(await isBackendAvailable(name))) return { status: 'unavailable', why: 'its test kernel did not run' };
  return null;
}

/** What the chosen backend runs on. */
async function runsOn(name) {
  if (name === 'webgpu') return `adapter: ${await adapterInfo()}`;
  if (name === 'threads') return `${navigator.hardwareConcurrency} logical cores; big kernels split over Web Workers sharing one WebAssembly memory`;
  if (name === 'webasm') return 'WebAssembly SIMD kernels on this worker alone';
  if (name === 'cpu') return 'JavaScript kernels';
  return `renderer: ${webgl2Renderer()}`;
}

/**
 * Make the first backend of the chain that works here active (or `wanted`, from the page's `?backend=`), and
 * say for each earlier one why it was passed over: `{ backend, chain: [{ name, label, status, why }] }`.
 */
export async function pickBackend(wanted) {
  if (wanted && !CHAIN.includes(wanted)) throw new Error(`unknown backend "${wanted}" (the chain: ${CHAIN.join(' → ')})`);
  const chain = [];
  for (const name of CHAIN) {
    const entry = { name, label: LABEL[name] };
    if (wanted && name !== wanted) {
      chain.push({ ...entry, status: 'skipped', why: `the page asked for ${wanted} (?backend=${wanted})` });
      continue;
    }
    const not = await whyNot(name, Boolean(wanted));
    if (not) {
      chain.push({ ...entry, ...not });
      if (wanted) throw Object.assign(new Error(`backend "${wanted}" does not work here: ${not.why}`), { chain });
      continue;
    }
    setBackend(name);
    chain.push({ ...entry, status: 'running', why: await runsOn(name) });
    return { backend: name, chain };
  }
  throw Object.assign(new Error('no backend works here'), { chain });
}
