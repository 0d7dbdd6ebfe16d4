// The demo's world (examples/knowledge-transfer: the trained teacher and its tokenizer) is served as the page's
// own files, and every response carries the two headers that make the page cross-origin isolated: without them
// a browser withholds SharedArrayBuffer and the WebAssembly backends cannot run their kernels.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  // a missing file must be a 404 (the loaders read optional tokenizer files), not the SPA fallback page
  appType: 'mpa',
  publicDir: fileURLToPath(new URL('../knowledge-transfer/', import.meta.url)),
  server: { headers: isolation, host: '127.0.0.1', port: 5174, strictPort: true },
  preview: { headers: isolation, host: '127.0.0.1', port: 5174, strictPort: true },
  // pre-bundled when the server starts, so the first page load does not trigger a reload
  optimizeDeps: { include: ['uplot'] },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
