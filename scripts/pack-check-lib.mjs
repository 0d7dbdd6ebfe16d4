// Helpers of scripts/pack-check.mjs: packing, installing tarballs into empty folders, the README's first snippet,
// the type-check configs, sizes. Kept apart so pack-check.mjs reads as the list of checks it makes.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
/** The pinned pnpm, whatever is on PATH (scripts/pnpm.mjs); its `pack` rewrites `workspace:` ranges to versions. */
export const PNPM = [process.execPath, join(ROOT, 'scripts/pnpm.mjs')];

/**
 * Run a command; throws one line naming it and the tail of its output when it fails.
 * @example run('node', ['--version'], { cwd: '.' }).stdout // 'v20.…'
 */
export function run(cmd, args, { cwd, timeout = 600_000, env = process.env, allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  const out = { code: r.status ?? (r.signal ? 128 : 1), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!allowFail && out.code !== 0) {
    const tail = `${out.stdout}\n${out.stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed with ${r.signal ?? `exit ${out.code}`}:\n${tail}`);
  }
  return out;
}

/** The workspace's packages: folder name, package.json, and the workspace packages it depends on. */
export function workspacePackages() {
  const dir = join(ROOT, 'packages');
  const pkgs = readdirSync(dir).filter((d) => lstatSync(join(dir, d, 'package.json'), { throwIfNoEntry: false })).map((folder) => {
    const json = JSON.parse(readFileSync(join(dir, folder, 'package.json'), 'utf8'));
    return { folder, dir: join(dir, folder), json, name: json.name, version: json.version };
  });
  const byName = new Map(pkgs.map((p) => [p.name, p]));
  for (const p of pkgs) p.workspaceDeps = Object.keys(p.json.dependencies ?? {}).filter((d) => byName.has(d));
  // A package installs with the tarballs of every workspace package it reaches: none of them is on the registry.
  for (const p of pkgs) {
    const seen = new Set([p.name]);
    const todo = [...p.workspaceDeps];
    while (todo.length) {
      const n = todo.pop();
      if (seen.has(n)) continue;
      seen.add(n);
      todo.push(...byName.get(n).workspaceDeps);
    }
    p.closure = [...seen];
  }
  return pkgs;
}

/**
 * The first fenced code block of a README and its language.
 * @example firstSnippet('# x\n```js\nconsole.log(1)\n```\n') // { lang: 'js', code: 'console.log(1)\n' }
 */
export function firstSnippet(readme) {
  const m = /```(\w+)\n([\s\S]*?)```/.exec(readme);
  return m ? { lang: m[1], code: m[2] } : null;
}

/** Bytes and files under `dir` (symlinks not followed), what `du` would count as the install size. */
export function diskUsage(dir) {
  let bytes = 0;
  let files = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        bytes += lstatSync(p).size;
        files++;
      }
    }
  };
  walk(dir);
  return { bytes, files };
}

/** The repository's copy of package `name`: its declaration file (`types` of its package.json). */
function peerTypes(name) {
  const dir = join(ROOT, 'node_modules', name);
  return join(dir, JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).types);
}

/**
 * A tsconfig that checks `files` (JavaScript included) as a consumer's project would: strict, `skipLibCheck: false`
 * so every shipped `.d.ts` is checked, Node's types from the repository (not installed into the consumer folder).
 */
export function writeTsconfig(dir, name, resolution, files, optionalPeers = []) {
  const module = resolution === 'bundler' ? 'esnext' : resolution;
  const compilerOptions = {
    target: 'es2022', lib: ['es2022'], module, moduleResolution: resolution, strict: true, noEmit: true,
    skipLibCheck: false, allowJs: true, checkJs: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')],
    // optional peers (fast-check, vitest) that only a subpath such as /testing needs: the repository's copies stand in
    // for the ones a user of that subpath installs, so their entry points are checked too
    paths: Object.fromEntries(optionalPeers.filter((n) => existsSync(join(ROOT, 'node_modules', n, 'package.json'))).map((n) => [n, [peerTypes(n)]])),
  };
  writeFileSync(join(dir, name), `${JSON.stringify({ compilerOptions, files }, null, 2)}\n`);
}

export const mb = (bytes) => (bytes / 1e6).toFixed(1);
