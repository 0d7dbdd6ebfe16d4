import { packageBuild } from '../../tsup.base.js';

/*
 * gpu.js (MIT) is bundled into dist/index.js instead of being a dependency: the published gpu.js 2.24.1
 * depends on `webgpu` (Dawn, ~84 MB, which gpu.js never loads in Node) and optionally on `gl` (native,
 * compiled from C++ when no prebuilt binary can be fetched: minutes). Bundled, `npm install
 * @llm-modules/tensor` fetches nothing native; `gl` and `webgpu` are optional peers the user adds for the
 * headlessgl and webgpu backends. The bundled packages' licenses (gpu.js, acorn, gpu-mock.js: all MIT)
 * travel with the bundle in dist/THIRD-PARTY-LICENSES.md.
 *
 * gpu.js is CommonJS: it calls `require('os')`, `require('worker_threads')` and `require('gl')`. In an ESM
 * bundle esbuild routes those through a `require` found in scope, so the banner makes one (Node's
 * `createRequire`, reached without a static `node:` import so browser bundles still load; there
 * `require` stays undefined and gpu.js's guarded requires fall back as they do in its browser build).
 * Resolving from dist/ means `gl` is found where the user installed it.
 */
const banner = [
  '/*! gpu.js 2.24.1 (bundled) | MIT License | Copyright (c) 2019 gpu.js Team | with acorn and gpu-mock.js (MIT): see THIRD-PARTY-LICENSES.md */',
  "const require = globalThis.process?.getBuiltinModule?.('node:module')?.createRequire(import.meta.url)" +
    " ?? (globalThis.process?.versions?.node ? (await import(/* @vite-ignore */ 'node:' + 'module')).createRequire(import.meta.url) : undefined);",
].join('\n');

const nodeBuild = packageBuild(['src/index.ts'], {
  external: [/^@llm-modules\//, 'gl', 'webgpu'],
  noExternal: ['gpu.js', 'acorn', 'gpu-mock.js'],
  banner: { js: banner },
  async onSuccess() {
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { createRequire } = await import('node:module');
    // acorn and gpu-mock.js are gpu.js's dependencies, so they resolve from gpu.js's own folder
    const fromGpuJs = createRequire(createRequire(import.meta.url).resolve('gpu.js/package.json'));
    const sections = ['gpu.js', 'acorn', 'gpu-mock.js'].map((name) => {
      const manifest = fromGpuJs.resolve(`${name}/package.json`);
      const { version, license } = JSON.parse(readFileSync(manifest, 'utf8'));
      const text = readFileSync(manifest.replace(/package\.json$/, 'LICENSE'), 'utf8').trim();
      return `## ${name} ${version} (${license})\n\n${text}\n`;
    });
    writeFileSync('dist/THIRD-PARTY-LICENSES.md', `# Bundled into dist/index.js\n\n${sections.join('\n')}`);
  },
});

/**
 * dist/browser.js (the `browser` export condition): the same source with the platform seam
 * (src/platform/worker.ts: worker_threads, node:os) swapped for its Web Worker version, and no Node
 * `require` in the banner, so bundling it for a browser meets no Node built-in. gpu.js keeps its
 * CommonJS source (`main`, as in the Node build); its guarded requires of os/worker_threads/gl stay
 * runtime calls that throw and are caught there. Types are the Node build's dist/index.d.ts (the
 * public API is the same and names no Node type).
 */
const browserSeam = {
  name: 'browser-platform',
  setup(build: { onResolve(o: { filter: RegExp }, cb: (a: { path: string; resolveDir: string }) => { path: string }): void }) {
    build.onResolve({ filter: /\/platform\/worker(\.js)?$/ }, async (a) => {
      const { resolve } = await import('node:path');
      return { path: resolve(a.resolveDir, a.path.replace(/worker(\.js)?$/, 'worker.browser.ts')) };
    });
  },
};
const browserBuild = {
  ...nodeBuild,
  entry: { browser: 'src/index.ts' },
  platform: 'browser' as const,
  dts: false,
  clean: false,
  onSuccess: undefined,
  banner: { js: banner.split('\n')[0] + '\nconst require = undefined;' },
  external: [/^@llm-modules\//, 'gl', 'webgpu', 'os', 'worker_threads'],
  esbuildPlugins: [browserSeam],
  // gpu.js's `browser` field is a UMD bundle; keep the CommonJS source the Node build uses
  esbuildOptions(o: { mainFields?: string[] }) {
    o.mainFields = ['module', 'main'];
  },
};

export default [nodeBuild, browserBuild];
