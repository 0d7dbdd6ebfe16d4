// The demo's world (examples/knowledge-transfer: the trained teacher, its tokenizer, the facts) is served as
// the page's own files, and every response carries the two headers that make the page cross-origin isolated:
// without them a browser withholds SharedArrayBuffer and the `threads` backend cannot start its Web Workers.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  // a missing file must be a 404 (the loaders read optional tokenizer files), not the SPA fallback page
  appType: 'mpa',
  publicDir: fileURLToPath(new URL('../knowledge-transfer/', import.meta.url)),
  server: { headers: isolation, host: '127.0.0.1', port: 5174, strictPort: true },
  preview: { headers: isolation, host: '127.0.0.1', port: 5174, strictPort: true },
  worker: { format: 'es' },
  build: { target: 'es2022' },
});
