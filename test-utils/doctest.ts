/**
 * Doctests: the `@example` blocks on the symbols a package exports (its entry points, as `exports` in package.json
 * lists them), read with the TypeScript compiler so re-exports resolve to the declaration that carries the JSDoc.
 *
 * An example is a fenced ```ts or ```js block; it runs as a module (top-level await allowed) whose bare imports resolve
 * as the tests' do (workspace packages from source). Names the package itself exports are imported for it when the
 * block uses them without importing them, as a reader of that package's docs would expect. An inline example
 * (`` @example `zeros([3, 4])` → … ``) runs its first code span the same way. A declaration whose example cannot run
 * (it needs the caller's values, files, a network service) says why with `@example-skip <reason>`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface DocExample {
  /** `package:symbol` (and `#n` when a symbol has several examples) */
  id: string;
  /** the entry point that exports the symbol ('@llm-modules/x' or a subpath such as '@llm-modules/x/testing') */
  entry: string;
  symbol: string;
  file: string;
  /** 1-based line of the `@example` tag */
  line: number;
  /** the fenced block's code, or an inline example's first `code` span; null when the example has no code */
  code: string | null;
  /** written inline (`` `expression` `` in the text) rather than as a fenced block */
  inline: boolean;
  /** the reason of an `@example-skip` tag on the declaration, else null */
  skip: string | null;
}

export interface PackageDocs {
  name: string;
  /** every exported name (values and types) of every entry point, deduplicated */
  exported: string[];
  /** the names each entry point ('@llm-modules/x', '@llm-modules/x/testing') exports */
  entries: Record<string, string[]>;
  /** the exported names whose declaration carries at least one `@example` */
  withExample: string[];
  examples: DocExample[];
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The src file of each entry point in `exports` ('.' → src/node.ts or src/index.ts, './testing' → src/testing.ts). */
function entryFiles(pkgDir: string): string[] {
  return entryPoints(pkgDir).map((e) => e.file);
}

/** Each entry point's import specifier and src file. */
function entryPoints(pkgDir: string): { specifier: string; file: string }[] {
  const json = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  return Object.keys(json.exports ?? { '.': '' })
    .filter((k) => !k.endsWith('.json'))
    // '.' of a package with a Node entry is src/node.ts (the browser-safe index plus the path loaders)
    .map((k) => ({ specifier: k === '.' ? json.name : `${json.name}/${k.slice(2)}`, file: join(pkgDir, 'src', `${k === '.' ? (existsSync(join(pkgDir, 'src', 'node.ts')) ? 'node' : 'index') : k.slice(2)}.ts`) }))
    .filter((e) => existsSync(e.file));
}

const fence = /^```(?:ts|js|typescript|javascript)?\s*\n([\s\S]*?)\n?```\s*$/;

/**
 * The exported symbols of the packages in `folders` (under packages/) and their `@example` blocks.
 *
 * @example
 * ```ts
 * const [docs] = collectDocs(['autograd']);
 * console.log(docs.name, docs.exported.includes('grad')); // @llm-modules/autograd true
 * ```
 */
export function collectDocs(folders: string[]): PackageDocs[] {
  const dirs = folders.map((f) => join(ROOT, 'packages', f));
  const roots = dirs.flatMap(entryFiles);
  const program = ts.createProgram(roots, {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    resolveJsonModule: true,
    noEmit: true,
    // only symbols are needed, not types: no default library or @types keeps this a few seconds
    noLib: true,
    types: [],
    baseUrl: ROOT,
    paths: { '@llm-modules/*': ['packages/*/src/index.ts'] },
  });
  const checker = program.getTypeChecker();
  return dirs.map((dir) => {
    const name: string = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
    const exported = new Set<string>();
    const withExample = new Set<string>();
    const examples: DocExample[] = [];
    const seen = new Set<ts.Declaration>();
    const entries: Record<string, string[]> = {};
    for (const { specifier, file } of entryPoints(dir)) {
      const source = program.getSourceFile(file);
      const moduleSymbol = source && checker.getSymbolAtLocation(source);
      if (!moduleSymbol) throw new Error(`${file}: not a module`);
      entries[specifier] = [];
      for (const sym of checker.getExportsOfModule(moduleSymbol)) {
        const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
        exported.add(sym.name);
        entries[specifier].push(sym.name);
        for (const decl of target.declarations ?? []) {
          if (seen.has(decl)) continue;
          seen.add(decl);
          const tags = ts.getJSDocTags(decl);
          const skip = tags.find((t) => t.tagName.text === 'example-skip');
          const exampleTags = tags.filter((t) => t.tagName.text === 'example');
          const blocks = exampleTags.map((t) => (ts.getTextOfJSDocComment(t.comment) ?? '').trim());
          if (blocks.length) withExample.add(sym.name);
          blocks.forEach((text, i) => {
            const sf = decl.getSourceFile();
            const m = fence.exec(text);
            // an inline example runs as its first `code` span (what follows it, e.g. `→ [1, 2]`, is its result)
            const inline = m ? null : /`([^`]+)`/.exec(text);
            examples.push({
              id: `${name}:${sym.name}${blocks.length > 1 ? `#${i + 1}` : ''}`,
              entry: specifier,
              symbol: sym.name,
              file: sf.fileName.slice(ROOT.length),
              line: sf.getLineAndCharacterOfPosition(exampleTags[i].getStart(sf)).line + 1,
              code: m ? m[1] : inline ? inline[1] : null,
              inline: !m,
              skip: skip ? (ts.getTextOfJSDocComment(skip.comment) ?? '').trim() || '(no reason given)' : null,
            });
          });
        }
      }
    }
    return { name, exported: [...exported].sort(), entries, withExample: [...withExample].sort(), examples };
  });
}

/**
 * The example as a module: the names of its own entry point (then of `prelude`'s modules) that it uses but does not
 * import or declare are imported for it.
 *
 * @example
 * ```ts
 * console.log(withOwnImports('grad(f);', '@llm-modules/autograd', ['grad', 'vjp']));
 * // import { grad } from '@llm-modules/autograd';
 * // grad(f);
 * ```
 */
export function withOwnImports(code: string, pkg: string, valueNames: string[], prelude: Record<string, string[]> = {}): string {
  const declared = new Set([...code.matchAll(/\b(?:import|const|let|var|function|class)\s*\{?([^=;(]*?)\}?\s*(?:=|from|\(|;)/g)].flatMap((m) => m[1].split(/[\s,{}]+/).map((s) => s.split(/\s+as\s+/).pop()!)));
  const lines: string[] = [];
  for (const [module, names] of [[pkg, valueNames] as const, ...Object.entries(prelude)]) {
    const used = names.filter((n) => !declared.has(n) && new RegExp(`(?:^|[^.\\w$'"]|\\.\\.\\.)${n.replace(/\$/g, '\\$')}\\b`, 'm').test(code));
    used.forEach((n) => declared.add(n));
    if (used.length) lines.push(`import { ${used.join(', ')} } from '${module}';\n`);
  }
  return lines.join('') + code;
}

export const repoRoot = ROOT;
export const packageDir = (folder: string) => dirname(join(ROOT, 'packages', folder, 'package.json'));
