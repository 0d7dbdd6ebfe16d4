#!/usr/bin/env node
// Install every package as an npm user would and run its README: `pnpm pack` each package (pnpm rewrites the
// `workspace:` ranges), `npm install` the tarballs into an empty folder per package (with the tarballs of the
// workspace packages it needs: none is on the registry), then
//   - the tarball holds LICENSE, README.md, dist/ and a package.json without `workspace:` ranges or `repository`;
//   - the README's first snippet runs as written (```js: `node example.mjs`; ```sh, the CLI: each line in bash);
//   - the snippet and a file importing every entry point type-check with `tsc --noEmit`, `skipLibCheck: false`,
//     under moduleResolution `bundler` and `node16` (a broken published `.d.ts` fails here, not in `pnpm typecheck`);
//   - `require()` of the package fails with ERR_PACKAGE_PATH_NOT_EXPORTED, as each README says (ESM only);
//   - tensor bundled by esbuild with tree shaking still registers its primitives (`sideEffects`);
//   - each library's browser entry (export condition `browser`) bundles with esbuild --platform=browser without
//     a Node built-in, and its `.d.ts` checks with `types: []`, lib ES2022 + DOM, `skipLibCheck: false` (issue #22).
// Prints install time and size per package (a table, or `--json`). Run after `pnpm build`.
// Usage: node scripts/pack-check.mjs [--json] [--only tensor,cli] [--no-demo] [--keep]
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNPM, ROOT, diskUsage, firstSnippet, mb, run, workspacePackages, writeTsconfig } from './pack-check-lib.mjs';
import { BROWSER_PACKAGES, browserBundleProblems, browserImport, writeBrowserTsconfig } from './browser-check-lib.mjs';

const args = process.argv.slice(2);
const flag = (f) => args.includes(f);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const log = (s) => process.stderr.write(`${s}\n`);
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const ESBUILD = join(ROOT, 'node_modules/.bin/esbuild');

const pkgs = workspacePackages();
for (const p of pkgs) if (!existsSync(join(p.dir, 'dist', 'index.js'))) fail(`${p.dir}/dist/index.js: not built (run pnpm build first)`);
const work = mkdtempSync(join(tmpdir(), 'pack-check-'));
const tarDir = join(work, 'tarballs');
mkdirSync(tarDir);

function fail(line) {
  process.stderr.write(`pack-check: ${line}\n`);
  process.exit(1);
}

/** `pnpm pack` one package; the tarball's path. */
function pack(p) {
  const before = new Set(readdirSync(tarDir));
  run(PNPM[0], [...PNPM.slice(1), 'pack', '--pack-destination', tarDir], { cwd: p.dir });
  const made = readdirSync(tarDir).filter((f) => !before.has(f) && f.endsWith('.tgz'));
  if (made.length !== 1) throw new Error(`${p.name}: pnpm pack made ${made.length} tarballs`);
  return join(tarDir, made[0]);
}

/** What the tarball must hold, and what its package.json must not say. */
function checkTarball(p, tgz) {
  const listing = run('tar', ['-tzf', tgz]).stdout.split('\n');
  for (const f of ['package/LICENSE', 'package/README.md', 'package/dist/index.js', 'package/dist/index.d.ts']) {
    if (!listing.includes(f)) throw new Error(`${tgz}: no ${f.slice(8)} in the tarball`);
  }
  const json = JSON.parse(run('tar', ['-xzOf', tgz, 'package/package.json']).stdout);
  const ranges = Object.entries({ ...json.dependencies, ...json.peerDependencies }).filter(([, r]) => String(r).startsWith('workspace:'));
  if (ranges.length) throw new Error(`${tgz}: package.json keeps workspace ranges (${ranges.map(([n]) => n).join(', ')})`);
  if (json.repository) throw new Error(`${tgz}: package.json names a repository (${JSON.stringify(json.repository)}); there is none`);
  if (p.folder === 'cli' && !listing.includes('package/dist/knowledge-transfer/teacher/model.safetensors')) {
    throw new Error(`${tgz}: the demo's world (dist/knowledge-transfer) is not in the tarball`);
  }
  return listing.length;
}

/** The entry points a consumer can import: '.' and every subpath export but package.json and data files. */
const entryPoints = (p) => Object.keys(p.json.exports ?? { '.': 0 }).filter((k) => !/\.json$/.test(k)).map((k) => (k === '.' ? p.name : `${p.name}/${k.slice(2)}`));

function typeCheck(dir, p, snippetFile) {
  const imports = entryPoints(p).map((e, i) => `import * as entry${i} from '${e}';\nexport { entry${i} };\n`).join('');
  writeFileSync(join(dir, 'entry-points.ts'), imports);
  const files = ['entry-points.ts', ...(snippetFile ? [snippetFile] : [])];
  for (const resolution of ['bundler', 'node16']) {
    writeTsconfig(dir, `tsconfig.${resolution}.json`, resolution, files, Object.keys(p.json.peerDependenciesMeta ?? {}).filter((n) => p.json.peerDependenciesMeta[n].optional));
    const r = run(process.execPath, [TSC, '-p', `tsconfig.${resolution}.json`], { cwd: dir, allowFail: true });
    if (r.code !== 0) throw new Error(`${p.name}: tsc --noEmit (moduleResolution ${resolution}, skipLibCheck false) fails:\n${r.stdout.trim().split('\n').slice(0, 20).join('\n')}`);
  }
}

/** Run the README's first snippet in `dir` as a user would; its output. */
function runSnippet(dir, p) {
  const snippet = firstSnippet(readFileSync(join(p.dir, 'README.md'), 'utf8'));
  if (!snippet) throw new Error(`${p.dir}/README.md: no code snippet`);
  if (snippet.lang === 'js') {
    writeFileSync(join(dir, 'example.mjs'), snippet.code);
    typeCheck(dir, p, 'example.mjs');
    return { file: 'example.mjs', out: run(process.execPath, ['example.mjs'], { cwd: dir, timeout: 300_000 }).stdout };
  }
  if (snippet.lang === 'sh') {
    typeCheck(dir, p, null);
    // `npm install <name>` is what this folder already did from the tarball; the rest runs as written.
    const lines = snippet.code.split('\n').filter((l) => l.trim() && !/^npm install\b/.test(l));
    const script = lines.filter((l) => !(flag('--no-demo') && /\bdemo\b/.test(l))).join('\n');
    const out = run('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, timeout: 600_000 }).stdout;
    const version = run('npx', ['--no-install', 'llm-modules', '--version'], { cwd: dir }).stdout.trim();
    if (version !== p.version) throw new Error(`${p.name}: llm-modules --version prints "${version}", the package is ${p.version}`);
    return { file: 'README.sh', out };
  }
  throw new Error(`${p.dir}/README.md: the first snippet is \`\`\`${snippet.lang}; pack-check runs js or sh`);
}

/** ESM only: `require()` must fail as the README says (no "require" condition in `exports`). */
function checkRequire(dir, p) {
  const r = run(process.execPath, ['-e', `require(${JSON.stringify(p.name)})`], { cwd: dir, allowFail: true });
  if (r.code === 0 || !r.stderr.includes('ERR_PACKAGE_PATH_NOT_EXPORTED')) {
    throw new Error(`${p.name}: require() does not fail with ERR_PACKAGE_PATH_NOT_EXPORTED as the README says:\n${r.stderr.slice(0, 400)}`);
  }
}

/**
 * A bundler keeps the primitives' registrations: esbuild bundles an import of two ops with tree shaking, and the
 * bundle must still evaluate them (a registration dropped as "side-effect free" fails with an unknown primitive).
 */
function checkTreeShaking(dir) {
  writeFileSync(join(dir, 'shake.mjs'), "import { add, tensor } from '@llm-modules/tensor';\nconsole.log(JSON.stringify(await add(tensor([1, 2]), 3).array()));\n");
  run(ESBUILD, ['shake.mjs', '--bundle', '--platform=node', '--format=esm', '--tree-shaking=true', '--outfile=shaken.mjs', '--log-level=error'], { cwd: dir });
  const out = run(process.execPath, ['shaken.mjs'], { cwd: dir }).stdout.trim();
  if (out !== '[4,5]') throw new Error(`@llm-modules/tensor bundled with tree shaking prints ${out}, not [4,5]`);
}

/** The browser entry: no Node built-in in an esbuild browser bundle, types without @types/node. */
async function checkBrowser(dir, p) {
  const problems = await browserBundleProblems(browserImport(p.name), dir);
  if (problems.length) throw new Error(`${p.name}: the browser entry does not bundle for a browser:\n${problems.slice(0, 10).join('\n')}`);
  writeFileSync(join(dir, 'browser-entry.ts'), browserImport(p.name));
  writeBrowserTsconfig(dir, 'tsconfig.browser.json', ['browser-entry.ts']);
  const r = run(process.execPath, [TSC, '-p', 'tsconfig.browser.json'], { cwd: dir, allowFail: true });
  if (r.code !== 0) throw new Error(`${p.name}: the browser entry's types need more than ES2022 + DOM (tsc, types: []):\n${r.stdout.trim().split('\n').slice(0, 20).join('\n')}`);
}

const results = [];
let failures = 0;
log(`pack-check in ${work}`);
const tarballs = new Map();
for (const p of pkgs) tarballs.set(p.name, pack(p));
for (const p of pkgs.filter((q) => !only || only.includes(q.folder))) {
  const dir = join(work, p.folder);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `pack-check-${p.folder}`, private: true, type: 'module' }, null, 2)}\n`);
  const row = { package: p.name, tarball_files: 0, install_seconds: 0, install_mb: 0, installed_packages: 0, snippet_seconds: 0, ok: false, error: null };
  try {
    row.tarball_files = checkTarball(p, tarballs.get(p.name));
    const t0 = performance.now();
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...p.closure.map((n) => tarballs.get(n))], { cwd: dir });
    row.install_seconds = +((performance.now() - t0) / 1000).toFixed(1);
    const usage = diskUsage(join(dir, 'node_modules'));
    row.install_mb = +mb(usage.bytes);
    row.installed_packages = Object.keys(JSON.parse(readFileSync(join(dir, 'node_modules/.package-lock.json'), 'utf8')).packages).length;
    checkRequire(dir, p);
    if (p.folder === 'tensor') checkTreeShaking(dir);
    if (BROWSER_PACKAGES.includes(p.folder)) await checkBrowser(dir, p);
    const t1 = performance.now();
    const { out } = runSnippet(dir, p);
    row.snippet_seconds = +((performance.now() - t1) / 1000).toFixed(1);
    row.ok = true;
    log(`ok   ${p.name}: installed in ${row.install_seconds}s (${row.install_mb} MB); README snippet ran in ${row.snippet_seconds}s, printed:\n${out.trim().split('\n').slice(-6).map((l) => `       ${l}`).join('\n')}`);
  } catch (e) {
    failures++;
    row.error = String(e.message ?? e);
    log(`FAIL ${p.name}: ${row.error}`);
  }
  results.push(row);
}
if (!flag('--keep')) rmSync(work, { recursive: true, force: true });

if (flag('--json')) console.log(JSON.stringify({ ok: failures === 0, packages: results }));
else {
  const head = `${'package'.padEnd(26)} ${'install s'.padStart(9)} ${'MB'.padStart(7)} ${'deps'.padStart(5)} ${'snippet s'.padStart(9)}  result`;
  console.log([head, ...results.map((r) => `${r.package.padEnd(26)} ${String(r.install_seconds).padStart(9)} ${String(r.install_mb).padStart(7)} ${String(r.installed_packages).padStart(5)} ${String(r.snippet_seconds).padStart(9)}  ${r.ok ? 'ok' : 'FAIL'}`)].join('\n'));
}
process.exit(failures ? 1 : 0);
