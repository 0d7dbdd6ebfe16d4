/**
 * A bridge that reads several teacher layers (`gated-tokens` with `teacherLayers`) trains from a teacher cache
 * that stores exactly those states side by side, and the cached run equals the run that computes them each step.
 */
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensorsAsTensors } from '@llm-modules/loaders';
import { setBackend } from '@llm-modules/tensor';
import { trainBridge } from '../src/node.js';
import { example, tinyBridgeConfig } from './tiny-bridge-config.js';

const TEACHER_WIDTH = 64; // examples/knowledge-transfer/teacher.train.json: hidden_size
const config = (output: string, extra: object = {}) => tinyBridgeConfig(output, { variant: 'gated-tokens', options: { heads: 2, teacherLayers: [1, -1] } }, 3, extra);

beforeAll(() => setBackend('cpu'));

describe('teacher layers through the teacher cache', () => {
  it('the cache stores the chosen layers side by side, and training from it equals training without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'teacher-layers-'));
    const cache = join(dir, 'cache');
    await trainBridge(config(join(dir, 'cached'), { teacherCache: cache }), { baseDir: example });
    await trainBridge(config(join(dir, 'direct')), { baseDir: example });
    const index = decode(await readFile(join(cache, 'index.msgpack'))) as { hiddenSize: number };
    expect(index.hiddenSize).toBe(2 * TEACHER_WIDTH);
    const [a, b] = await Promise.all(['cached', 'direct'].map((r) => loadSafetensorsAsTensors(join(dir, r, 'bridge.safetensors'))));
    for (const name of Object.keys(b)) {
      const [x, y] = [await a[name].data(), await b[name].data()];
      // the cache stores float16 states, so the runs agree up to that rounding (a few Adam steps of lr 0.003 at most)
      let worst = 0;
      let sum = 0;
      x.forEach((v, i) => ((worst = Math.max(worst, Math.abs(v - y[i]))), (sum += Math.abs(v - y[i]))));
      expect(worst, name).toBeLessThan(0.1);
      expect(sum / x.length, name).toBeLessThan(1e-3);
    }
  });
});
