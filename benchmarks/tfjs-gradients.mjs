// tfjs-core's CommonJS bundle (what Node loads) has no gradient functions: they ship only as ES modules
// (dist/register_all_gradients.js). For the training baseline this bundles them once with esbuild into
// a CommonJS file and loads it; the gradients register in tfjs's global registry, shared with the
// CommonJS core. Benchmark-only plumbing.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function registerTfjsGradients() {
  const require = createRequire(join(here, 'noop.js'));
  const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  const out = join(here, 'node_modules', '.cache', 'tfjs-gradients.cjs');
  if (!existsSync(out)) {
    mkdirSync(dirname(out), { recursive: true });
    const esbuild = join(here, '..', 'node_modules', '.bin', 'esbuild');
    const r = spawnSync(esbuild, [entry, '--bundle', '--platform=node', '--format=cjs', `--outfile=${out}`, '--log-level=error'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`could not bundle tfjs gradients: ${r.stderr}`);
  }
  require(out);
}
