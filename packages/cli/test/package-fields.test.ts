/**
 * What every published package.json and tarball promises (issue 18): the MIT LICENSE travels with each package, no
 * made-up `repository`, `sideEffects` covers the files a consumer loads that register primitives at top level (dist/,
 * not only src/), and the README says the package is ESM only.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const folders = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));
const license = readFileSync(join(root, 'LICENSE'), 'utf8');

/** src files (package-relative, './src/…') that call a registration at module top level, so importing them has effects. */
function registeringFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && /^(\s{0,2})(definePrimitive|registerReleaser)\(/m.test(readFileSync(p, 'utf8'))) out.push(`./${p.slice(dir.length + 1)}`);
    }
  };
  walk(join(dir, 'src'));
  return out;
}

/** A `sideEffects` glob as webpack and esbuild read it: `*` within one path segment. */
const globMatches = (glob: string, file: string) => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`).test(file);

describe.each(folders)('packages/%s', (folder) => {
  const dir = join(root, 'packages', folder);
  const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

  it('ships the MIT LICENSE (the repository root one) and names no repository', () => {
    expect(json.license).toBe('MIT');
    expect(license).toMatch(/^MIT License/);
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(license);
    expect(json.files).toContain('LICENSE');
    expect(json.repository).toBeUndefined();
  });

  it('declares side effects for every published file that registers at top level', () => {
    const registering = registeringFiles(dir);
    if (registering.length === 0 && folder !== 'cli') {
      expect(json.sideEffects).toBe(false);
      return;
    }
    const globs: string[] = json.sideEffects;
    expect(Array.isArray(globs)).toBe(true);
    for (const f of registering) expect(globs.some((g) => globMatches(g, f)), f).toBe(true);
    // consumers load the bundles, which inline those registrations: dist/index.js and its chunks
    const entry = folder === 'cli' ? './dist/bin.js' : './dist/index.js';
    expect(globs.some((g) => globMatches(g, entry)), entry).toBe(true);
  });

  it('says in its README that it is ESM only and what require() gives', () => {
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/ESM only/);
    expect(readme).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(Object.values(json.exports as Record<string, unknown>).every((e) => typeof e === 'string' || !('require' in (e as object)))).toBe(true);
  });
});
