// Issue #22: each package's browser entry must bundle for a browser without any Node built-in, and its types
// must check without @types/node. Shared by pack-check (the published tarballs) and
// scripts/test/browser-entries.test.ts (the workspace sources, no build needed).
import { builtinModules, createRequire } from 'node:module';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './pack-check-lib.mjs';

const esbuild = createRequire(join(ROOT, 'package.json'))('esbuild');
const BUILTINS = new Set(builtinModules);
const isBuiltin = (p) => p.startsWith('node:') || BUILTINS.has(p) || BUILTINS.has(p.split('/')[0]);

/** Packages whose browser entry is checked (the CLI is a Node program). */
export const BROWSER_PACKAGES = ['tensor', 'autograd', 'loaders', 'transformer', 'bridge', 'trainer'];

/**
 * gpu.js (bundled into tensor) guards `require('os')`, `require('worker_threads')` and `require('gl')` in
 * try/catch; tensor's browser build leaves them as runtime calls that throw there (tsup.config.ts). Only the
 * source check meets them; the published dist/browser.js imports nothing of the kind.
 */
const GUARDED = (path, importer) => /[\\/]gpu\.js[\\/]/.test(importer) && ['os', 'worker_threads', 'gl'].includes(path);

/** Fails the build on any import of a Node built-in, naming the importing file. */
const noNodeBuiltins = {
  name: 'no-node-builtins',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (a) => {
      if (!isBuiltin(a.path)) return undefined;
      if (GUARDED(a.path, a.importer)) return { path: a.path, external: true };
      return { errors: [{ text: `imports the Node built-in "${a.path}" (from ${a.importer.replace(ROOT, '')})` }] };
    });
  },
};

/** The workspace packages from source: '@llm-modules/x' → packages/x/src/index.ts, and tensor's browser platform seam. */
const workspaceSources = {
  name: 'workspace-sources',
  setup(build) {
    build.onResolve({ filter: /^@llm-modules\/[a-z-]+$/ }, (a) => ({ path: join(ROOT, 'packages', a.path.split('/')[1], 'src', 'index.ts') }));
    build.onResolve({ filter: /[\\/]platform[\\/]worker(\.js)?$/ }, (a) => ({ path: resolve(a.resolveDir, a.path.replace(/worker(\.js)?$/, 'worker.browser.ts')) }));
  },
};

/**
 * Bundle `code` (an ES module importing the packages) for a browser, as `esbuild --bundle --platform=browser
 * --format=esm` would, resolving from `dir`. Returns the Node built-in problems, one line each (empty: clean).
 * `fromSource` bundles the workspace's src/ instead of installed packages.
 */
export async function browserBundleProblems(code, dir, { fromSource = false } = {}) {
  try {
    await esbuild.build({
      stdin: { contents: code, resolveDir: dir, loader: 'ts' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
      // optional peers a page never loads (tensor's headless gl and Dawn)
      external: ['gl', 'webgpu'],
      plugins: fromSource ? [noNodeBuiltins, workspaceSources] : [noNodeBuiltins],
    });
    return [];
  } catch (e) {
    return (e.errors ?? [{ text: String(e) }]).map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`);
  }
}

/**
 * A tsconfig that checks `files` as a browser project would: lib ES2022 + DOM, no @types at all (`types: []`),
 * `skipLibCheck: false`, and the `browser` export condition, so each package's browser `.d.ts` is the one read.
 */
export function writeBrowserTsconfig(dir, name, files) {
  const compilerOptions = {
    target: 'es2022', lib: ['es2022', 'dom'], module: 'esnext', moduleResolution: 'bundler', customConditions: ['browser'],
    strict: true, noEmit: true, skipLibCheck: false, types: [],
  };
  writeFileSync(join(dir, name), `${JSON.stringify({ compilerOptions, files }, null, 2)}\n`);
}

/** The import line of a package's browser entry for the checks. */
export const browserImport = (name, i = 0) => `import * as browserEntry${i} from '${name}';\nexport { browserEntry${i} };\n`;

export const hasSource = (folder) => existsSync(join(ROOT, 'packages', folder, 'src', 'index.ts'));
