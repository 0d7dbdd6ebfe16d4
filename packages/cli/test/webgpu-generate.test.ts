/**
 * `generate --backend webgpu` decodes the GPT-Neo fixture to the same greedy tokens as threads (and as
 * transformer's generate example). Runs where webgpu is available (CI's webgpu step); skipped elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { isBackendAvailable } from '@llm-modules/tensor';
import { main } from '../src/index.js';

const MODEL = new URL('../../transformer/test/fixtures/models/gptneo', import.meta.url).pathname;

async function generateOn(backend: string): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(['generate', '--model', MODEL, '--ids', '31,35,59,60,80,54', '--max-new-tokens', '8', '--backend', backend], {
    stdout: (s) => void (out += s),
    stderr: () => undefined,
  });
  return { code, out };
}

describe.skipIf(!(await isBackendAvailable('webgpu')))('webgpu: the CLI', () => {
  it('generate --backend webgpu gives the greedy tokens threads gives', async () => {
    const gpu = await generateOn('webgpu');
    expect(gpu).toEqual({ code: 0, out: '49 49 23 1 61 61 61 94\n' });
    expect(await generateOn('threads')).toEqual(gpu);
  });
});
