import { afterEach, describe, expect, test, vi } from 'vitest';

const fresh = async () => {
  vi.resetModules();
  return import('@llm-modules/tensor');
};

describe('backend selection', () => {
  afterEach(() => vi.unstubAllEnvs());

  test('LLM_MODULES_BACKEND picks the backend', async () => {
    vi.stubEnv('LLM_MODULES_BACKEND', 'cpu');
    const T = await fresh();
    expect(T.getBackend().name).toBe('cpu');
    expect(await T.initBackend()).toBe('cpu');
  });

  test('without it, the default is the first working backend of the documented order', async () => {
    vi.stubEnv('LLM_MODULES_BACKEND', '');
    const T = await fresh();
    const working = await T.listBackends();
    const name = await T.initBackend();
    expect(working).toContain(name);
    expect(['threads', 'webasm', 'cpu']).toContain(name);
    expect(T.getBackend().name).toBe(name);
  });

  test('setBackend rejects unknown names with a clear error', async () => {
    const T = await fresh();
    expect(() => T.setBackend('tpu' as never)).toThrow(/setBackend: unknown backend "tpu"/);
  });

  test('cpu, webasm, threads and reference work in Node', async () => {
    const T = await fresh();
    const working = await T.listBackends();
    for (const name of ['cpu', 'webasm', 'threads', 'reference'] as const) expect(working).toContain(name);
  });

  test('withBackend restores the previous backend', async () => {
    const T = await fresh();
    T.setBackend('cpu');
    const v = await T.withBackend('reference', async () => {
      expect(T.getBackend().name).toBe('reference');
      return (await T.add(T.tensor([1]), 1).data())[0];
    });
    expect(v).toBe(2);
    expect(T.getBackend().name).toBe('cpu');
  });
});
