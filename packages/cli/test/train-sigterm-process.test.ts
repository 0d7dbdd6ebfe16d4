/**
 * A real SIGTERM (what `docker stop`, Kubernetes or a scheduler sends) to a training process: it finishes the step,
 * saves the checkpoint and the model, and exits 143 by itself. Before, Node's default action killed it at once.
 * The process runs the CLI's source through vite-node (vitest's runner, with this repo's aliases), without the
 * SIGTERM listener of vite's own server (no-vite-sigterm.mjs), which the built binary does not have.
 */
import { describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lmSetup } from './lm-setup.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const preload = new URL('./no-vite-sigterm.mjs', import.meta.url).href;
const viteNode = join(dirname(createRequire(createRequire(import.meta.url).resolve('vitest/package.json')).resolve('vite-node/package.json')), 'vite-node.mjs');

describe('train under a real SIGTERM', () => {
  test('saves, then exits 143 on its own (no signal death)', async () => {
    const file = lmSetup({ epochs: 500 });
    const out = join(file, '..', 'out');
    let log = '';
    const child = spawn(process.execPath, ['--import', preload, viteNode, '--config', join(root, 'vitest.config.ts'), bin, '--', 'train', '--config', file, '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (log += d));
    child.stderr.on('data', (d) => (log += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const t0 = Date.now();
    while (!(existsSync(join(out, 'metrics.jsonl')) && readFileSync(join(out, 'metrics.jsonl'), 'utf8').includes('"type":"step"'))) {
      if (Date.now() - t0 > 50_000) {
        child.kill('SIGKILL');
        throw new Error(`no training step within 50 s: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect({ code, signal }, log).toEqual({ code: 143, signal: null });
    expect(log).toMatch(/interrupted by SIGTERM: finishing the current step, then saving a checkpoint/);
    expect(log, log).toMatch(/"stopped":"aborted"/);
    expect(existsSync(join(out, 'checkpoint', 'checkpoint.msgpack'))).toBe(true);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  }, 90_000);
});
