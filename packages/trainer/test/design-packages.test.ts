/**
 * docs/DESIGN.md's package table names, for each package, the workspace packages it depends on: the table must
 * match every package.json, and every source import of another workspace package must be a declared dependency.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const PACKAGES = ['tensor', 'autograd', 'loaders', 'transformer', 'bridge', 'trainer', 'cli'];
const declared = (pkg: string): string[] => {
  const json = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(json.dependencies ?? {}).filter((d) => d.startsWith('@llm-modules/')).map((d) => d.slice('@llm-modules/'.length)).sort();
};
const sources = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

describe('DESIGN.md package table', () => {
  const design = readFileSync(join(root, 'docs/DESIGN.md'), 'utf8');
  const rows = new Map([...design.matchAll(/^\| packages\/([a-z]+) \|[^|]*\|[^|]*\| ([^|]*) \|$/gm)].map((m) => [m[1], m[2]]));

  it.each(PACKAGES)('%s: the table lists exactly its workspace dependencies', (pkg) => {
    const cell = rows.get(pkg);
    expect(cell, `no row for packages/${pkg}`).toBeDefined();
    const listed = /^all\b/.test(cell!.trim()) ? PACKAGES.filter((p) => p !== pkg) : PACKAGES.filter((p) => new RegExp(`(^|[ ,])${p}([ ,]|$)`).test(cell!));
    expect(listed.sort()).toEqual(declared(pkg));
  });

  it.each(PACKAGES)('%s: its sources import only declared workspace packages (no arrow the table does not show)', (pkg) => {
    const used = new Set<string>();
    for (const f of sources(join(root, 'packages', pkg, 'src'))) for (const m of readFileSync(f, 'utf8').matchAll(/from '@llm-modules\/([a-z-]+)/g)) if (m[1] !== pkg) used.add(m[1]);
    for (const u of used) expect(declared(pkg), `${pkg} imports @llm-modules/${u}`).toContain(u);
  });
});
