/**
 * No import cycles among the tensor package's modules (runtime imports; `import type` is erased), so
 * that module order never decides whether a value is initialised. The basic primitives' gradient rules
 * that would call back into a file importing theirs live in primitives/basic-rules.ts for this reason.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
const ALLOWED: string[] = [];

function sources(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Relative runtime imports (and re-exports) of each file. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of sources(SRC)) {
    const deps: string[] = [];
    for (const m of readFileSync(f, 'utf8').matchAll(/^(?:import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)) {
      if (!m[1]) deps.push(resolve(dirname(f), m[2].replace(/\.js$/, '.ts')));
    }
    graph.set(f, deps);
  }
  return graph;
}

/** Strongly connected components of more than one file (Tarjan), each as its sorted relative paths. */
function cycles(graph: Map<string, string[]>): string[] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      scc.push(relative(SRC, w));
    } while (w !== v);
    if (scc.length > 1) found.push(scc.sort().join(' '));
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found.sort();
}

test('the tensor sources import each other without cycles', () => {
  const graph = importGraph();
  expect(graph.size).toBeGreaterThan(50);
  expect(cycles(graph)).toEqual(ALLOWED);
});
