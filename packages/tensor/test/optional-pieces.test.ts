/**
 * gl (headlessgl) and webgpu (Dawn, for webgpu in Node) are optional peers, not dependencies: a default
 * install stays light. Missing pieces must fail with one line naming the package to install.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import * as T from '@llm-modules/tensor';
import { dawnAttempts, headlessGlProblem, webGpuProblem } from '../src/backends/gpujs/optional-pieces.js';

/** The error Node's own import('webgpu') gives where the package is not installed (an empty folder). */
function missingWebGpuError(): Error {
  const script = "import('webgpu').then(() => console.log('{}'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))";
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: mkdtempSync(join(tmpdir(), 'no-webgpu-')), encoding: 'utf8' });
  const { code, message } = JSON.parse(out) as { code: string; message: string };
  return Object.assign(new Error(message), { code });
}

const g = globalThis as unknown as { navigator?: { gpu?: unknown }; GPUTestGlobal?: unknown };
const hadNavigator = 'navigator' in globalThis;

describe('optional pieces', () => {
  afterEach(() => {
    if (g.navigator && Object.getOwnPropertyDescriptor(g.navigator, 'gpu')?.configurable) delete g.navigator.gpu;
    if (!hadNavigator) delete g.navigator;
    delete g.GPUTestGlobal;
  });

  test('the package manifest pulls in no gpu.js, gl or webgpu; gl and webgpu are optional peers', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(Object.keys(pkg.dependencies ?? {})).toEqual([]);
    expect(Object.keys(pkg.optionalDependencies ?? {})).toEqual([]);
    expect(pkg.peerDependenciesMeta).toEqual({ gl: { optional: true }, webgpu: { optional: true } });
  });

  test('webgpu without the `webgpu` package names it, in one line', async () => {
    const err = missingWebGpuError();
    expect(err.message).toMatch(/Cannot find package 'webgpu'/);
    const problem = await webGpuProblem(() => Promise.reject(err));
    expect(problem).toBe('backend webgpu needs the optional package `webgpu` (Dawn): npm install webgpu');
  });

  test('a `webgpu` package that fails to load is reported in one line with its reason', async () => {
    const problem = await webGpuProblem(() => Promise.reject(new Error("libstdc++.so.6: version `GLIBCXX_3.4.32' not found\n    at dlopen")));
    expect(problem).toBe("backend webgpu: the optional package `webgpu` did not load: libstdc++.so.6: version `GLIBCXX_3.4.32' not found");
  });

  test('a missing module inside `webgpu` is not reported as `webgpu` missing', async () => {
    const inner = Object.assign(new Error("Cannot find module 'bindings' imported from /app/node_modules/webgpu/index.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(await webGpuProblem(() => Promise.reject(inner))).toBe("backend webgpu: the optional package `webgpu` did not load: Cannot find module 'bindings' imported from /app/node_modules/webgpu/index.js");
  });

  test('a Dawn that cannot start is one line, and leaves navigator.gpu alone', async () => {
    const problem = await webGpuProblem(async () => ({
      create: () => {
        throw new Error('no Vulkan driver\n  at create');
      },
    }));
    expect(problem).toBe('backend webgpu: the optional package `webgpu` did not start: no Vulkan driver');
    expect(g.navigator?.gpu).toBeUndefined();
  });

  test('a loaded Dawn with an adapter provides navigator.gpu and its WebGPU globals', async () => {
    const gpu = { requestAdapter: async () => ({}) };
    const problem = await webGpuProblem(async () => ({ create: () => gpu, globals: { GPUTestGlobal: 7 } }), dawnAttempts('vulkan'));
    expect(problem).toBeUndefined();
    expect(g.navigator?.gpu).toBe(gpu);
    expect(g.GPUTestGlobal).toBe(7);
  });

  test('without LLM_MODULES_DAWN_BACKEND, Dawn\'s default comes first, then OpenGL ES at the compatibility level', async () => {
    expect(dawnAttempts(undefined).map((a) => [a.flags, a.options])).toEqual([
      [[], {}],
      [['backend=opengles'], { featureLevel: 'compatibility' }],
    ]);
    expect(dawnAttempts('vulkan').map((a) => a.flags)).toEqual([['backend=vulkan']]);
    const asked: [string[], object | undefined][] = [];
    const create = (flags: string[]) => ({
      requestAdapter: async (o?: { featureLevel?: string }) => (asked.push([flags, o]), flags.length && o?.featureLevel === 'compatibility' ? { flags } : null),
    });
    expect(await webGpuProblem(async () => ({ create }), dawnAttempts(undefined))).toBeUndefined();
    // gpu.js asks with no options: the installed navigator.gpu adds the compatibility level
    const gpu = g.navigator?.gpu as { requestAdapter(o?: object): Promise<unknown> };
    expect(await gpu.requestAdapter()).toEqual({ flags: ['backend=opengles'] });
    expect(asked.map(([f]) => f.join())).toEqual(['', 'backend=opengles', 'backend=opengles']);
  });

  test('a Dawn without any adapter is one line saying what to try, and leaves navigator.gpu alone', async () => {
    const problem = await webGpuProblem(async () => ({ create: () => ({ requestAdapter: async () => null }) }), dawnAttempts(undefined));
    expect(problem).toBe(
      "backend webgpu: Dawn found no adapter (tried default, opengles); choose one with LLM_MODULES_DAWN_BACKEND, or without a GPU on Linux install Mesa's EGL (libegl1 libegl-mesa0 libgl1-mesa-dri)",
    );
    expect(g.navigator?.gpu).toBeUndefined();
  });

  test('headlessgl without `gl` names it; with a broken `gl` says what to check', async () => {
    if (await T.isBackendAvailable('headlessgl')) return; // gl built and a display: nothing to report
    expect(headlessGlProblem(false)).toBe('backend headlessgl needs the optional package `gl` (native; run under a display, e.g. xvfb-run -a): npm install gl');
    expect(headlessGlProblem(true)).toMatch(/^backend headlessgl does not work here: the optional package `gl` did not load/);
  });

  test('evaluating on an unavailable GPU backend rejects with that one line, not a gpu.js error', async () => {
    for (const name of ['headlessgl', 'webgpu'] as const) {
      if (await T.isBackendAvailable(name)) continue;
      const err = await T.withBackend(name, () => T.add(T.tensor([1, 2]), 1).data()).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(T.TensorError);
      // unavailable: the optional package is missing, or (webgpu) Dawn loaded but found no adapter — as under
      // xvfb-run, where this process has loaded `gl` (Mesa through GLX) before Dawn asks EGL; either way one line
      expect((err as Error).message).toMatch(new RegExp(`^evaluate: backend ${name}[^\\n]*(\`(gl|webgpu)\`|Dawn found no adapter)`));
      expect((err as Error).message).not.toContain('\n');
    }
  });
});
