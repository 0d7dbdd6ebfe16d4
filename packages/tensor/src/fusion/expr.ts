/**
 * Elementwise expression DAGs. The body templates of the elementwise primitives (gpu.js statements
 * such as `const e = Math.exp(-Math.abs(v0));\n return v0 >= 0.0 ? p : e * p;`) are parsed into one
 * hash-consed DAG per fused group; early `return`s inside `if` become selects (the templates are pure,
 * so both sides may be evaluated). The DAG is printed back as gpu.js / JavaScript statements (the fused
 * gpu.js kernel and the JS loop) or emitted as WebAssembly SIMD (backends/cpu/wasm/elementwise.ts).
 */

export type UnOp = 'neg' | 'not';
export type BinOp = '+' | '-' | '*' | '/' | '<' | '<=' | '>' | '>=' | '===' | '!==' | '&&' | '||';
/** Math functions the templates use. */
export type MathFn = 'exp' | 'log' | 'sqrt' | 'tanh' | 'abs' | 'floor' | 'ceil' | 'min' | 'max' | 'pow' | 'sin' | 'cos';

export type Expr =
  | { readonly k: 'num'; readonly v: number; readonly id: number }
  | { readonly k: 'in'; readonly i: number; readonly id: number }
  | { readonly k: 'un'; readonly op: UnOp; readonly a: Expr; readonly id: number }
  | { readonly k: 'bin'; readonly op: BinOp; readonly a: Expr; readonly b: Expr; readonly id: number }
  | { readonly k: 'call'; readonly f: MathFn; readonly args: readonly Expr[]; readonly id: number }
  | { readonly k: 'sel'; readonly c: Expr; readonly a: Expr; readonly b: Expr; readonly id: number };

const MATH_FNS = new Set<string>(['exp', 'log', 'sqrt', 'tanh', 'abs', 'floor', 'ceil', 'min', 'max', 'pow', 'sin', 'cos']);
const BOOL_OPS = new Set<string>(['<', '<=', '>', '>=', '===', '!==', '&&', '||']);

export const isBool = (e: Expr): boolean => (e.k === 'bin' && BOOL_OPS.has(e.op)) || (e.k === 'un' && e.op === 'not');

export class Unsupported extends Error {}

/** Builds hash-consed nodes: structurally equal subexpressions are one node. */
export class DagBuilder {
  private readonly table = new Map<string, Expr>();
  private next = 0;
  readonly nodes: Expr[] = [];

  private make(key: string, build: (id: number) => Expr): Expr {
    let e = this.table.get(key);
    if (!e) {
      e = build(this.next++);
      this.table.set(key, e);
      this.nodes.push(e);
    }
    return e;
  }
  num(v: number): Expr {
    return this.make(`n${Object.is(v, -0) ? '-0' : v}`, (id) => ({ k: 'num', v, id }));
  }
  input(i: number): Expr {
    return this.make(`i${i}`, (id) => ({ k: 'in', i, id }));
  }
  un(op: UnOp, a: Expr): Expr {
    if (op === 'neg' && a.k === 'num') return this.num(-a.v);
    return this.make(`u${op},${a.id}`, (id) => ({ k: 'un', op, a, id }));
  }
  bin(op: BinOp, a: Expr, b: Expr): Expr {
    return this.make(`b${op},${a.id},${b.id}`, (id) => ({ k: 'bin', op, a, b, id }));
  }
  call(f: MathFn, args: Expr[]): Expr {
    return this.make(`c${f},${args.map((x) => x.id).join(',')}`, (id) => ({ k: 'call', f, args, id }));
  }
  sel(c: Expr, a: Expr, b: Expr): Expr {
    if (a === b) return a;
    return this.make(`s${c.id},${a.id},${b.id}`, (id) => ({ k: 'sel', c, a, b, id }));
  }
}

// ---------------------------------------------------------------------------------------------------
// parsing the template language

type Tok = { t: 'num'; v: number } | { t: 'id'; v: string } | { t: 'op'; v: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const ops = ['===', '!==', '<=', '>=', '&&', '||', '<', '>', '+', '-', '*', '/', '(', ')', '{', '}', ',', ';', '?', ':', '=', '!'];
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ t: 'num', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*/.exec(src.slice(i));
    if (id) {
      out.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const op = ops.find((o) => src.startsWith(o, i));
    if (!op) throw new Unsupported(`cannot tokenize "${src.slice(i, i + 10)}"`);
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  return out;
}

type Stmt =
  | { s: 'return'; e: PExpr }
  | { s: 'decl' | 'assign'; name: string; e: PExpr }
  | { s: 'if'; c: PExpr; then: Stmt[]; else: Stmt[] };

/** Parsed (not yet bound) expression. */
type PExpr =
  | { p: 'num'; v: number }
  | { p: 'var'; name: string }
  | { p: 'un'; op: UnOp; a: PExpr }
  | { p: 'bin'; op: BinOp; a: PExpr; b: PExpr }
  | { p: 'call'; f: MathFn; args: PExpr[] }
  | { p: 'sel'; c: PExpr; a: PExpr; b: PExpr };

class Parser {
  private i = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok | undefined {
    return this.toks[this.i];
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t?.t === 'op' && t.v === v;
  }
  private expect(v: string): void {
    if (!this.isOp(v)) throw new Unsupported(`expected ${v}`);
    this.i++;
  }

  statements(): Stmt[] {
    const out: Stmt[] = [];
    while (this.i < this.toks.length && !this.isOp('}')) out.push(this.statement());
    return out;
  }

  private block(): Stmt[] {
    this.expect('{');
    const body = this.statements();
    this.expect('}');
    return body;
  }

  private statement(): Stmt {
    const t = this.peek()!;
    if (t.t === 'id' && t.v === 'return') {
      this.i++;
      const e = this.expr();
      this.expect(';');
      return { s: 'return', e };
    }
    if (t.t === 'id' && (t.v === 'const' || t.v === 'let')) {
      this.i++;
      const name = this.peek();
      if (name?.t !== 'id') throw new Unsupported('expected a name');
      this.i++;
      this.expect('=');
      const e = this.expr();
      this.expect(';');
      return { s: 'decl', name: name.v, e };
    }
    if (t.t === 'id' && t.v === 'if') {
      this.i++;
      this.expect('(');
      const c = this.expr();
      this.expect(')');
      const then = this.block();
      let els: Stmt[] = [];
      const n = this.peek();
      if (n?.t === 'id' && n.v === 'else') {
        this.i++;
        els = this.block();
      }
      return { s: 'if', c, then, else: els };
    }
    if (t.t === 'id') {
      this.i++;
      this.expect('=');
      const e = this.expr();
      this.expect(';');
      return { s: 'assign', name: t.v, e };
    }
    throw new Unsupported(`unexpected token ${JSON.stringify(t)}`);
  }

  expr(): PExpr {
    const c = this.binary(0);
    if (this.isOp('?')) {
      this.i++;
      const a = this.expr();
      this.expect(':');
      const b = this.expr();
      return { p: 'sel', c, a, b };
    }
    return c;
  }

  private static readonly LEVELS: BinOp[][] = [['||'], ['&&'], ['===', '!=='], ['<', '<=', '>', '>='], ['+', '-'], ['*', '/']];

  private binary(level: number): PExpr {
    if (level >= Parser.LEVELS.length) return this.unary();
    let a = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t?.t !== 'op' || !Parser.LEVELS[level].includes(t.v as BinOp)) return a;
      this.i++;
      const b = this.binary(level + 1);
      a = { p: 'bin', op: t.v as BinOp, a, b };
    }
  }

  private unary(): PExpr {
    if (this.isOp('-')) {
      this.i++;
      return { p: 'un', op: 'neg', a: this.unary() };
    }
    if (this.isOp('!')) {
      this.i++;
      return { p: 'un', op: 'not', a: this.unary() };
    }
    return this.primary();
  }

  private primary(): PExpr {
    const t = this.peek();
    if (!t) throw new Unsupported('unexpected end');
    if (t.t === 'num') {
      this.i++;
      return { p: 'num', v: t.v };
    }
    if (this.isOp('(')) {
      this.i++;
      const e = this.expr();
      this.expect(')');
      return e;
    }
    if (t.t === 'id') {
      this.i++;
      if (t.v.startsWith('Math.')) {
        const f = t.v.slice(5);
        if (!MATH_FNS.has(f)) throw new Unsupported(`Math.${f}`);
        this.expect('(');
        const args: PExpr[] = [];
        while (!this.isOp(')')) {
          args.push(this.expr());
          if (this.isOp(',')) this.i++;
        }
        this.expect(')');
        return { p: 'call', f: f as MathFn, args };
      }
      return { p: 'var', name: t.v };
    }
    throw new Unsupported(`unexpected token ${t.v}`);
  }
}

const parsedCache = new Map<string, Stmt[]>();

function parseBody(src: string): Stmt[] {
  let s = parsedCache.get(src);
  if (!s) {
    const p = new Parser(tokenize(src));
    s = p.statements();
    parsedCache.set(src, s);
  }
  return s;
}

/**
 * Bind a template body to DAG nodes: `args` are the values of the template's parameter names
 * (`names[k]` ↦ `args[k]`). Returns the node of the returned value.
 */
export function bindBody(dag: DagBuilder, src: string, names: readonly string[], args: readonly Expr[]): Expr {
  const env = new Map<string, Expr>();
  names.forEach((n, k) => env.set(n, args[k]));
  const expr = (e: PExpr, env: Map<string, Expr>): Expr => {
    switch (e.p) {
      case 'num':
        return dag.num(e.v);
      case 'var': {
        const v = env.get(e.name);
        if (!v) throw new Unsupported(`unknown name ${e.name}`);
        return v;
      }
      case 'un':
        return dag.un(e.op, expr(e.a, env));
      case 'bin':
        return dag.bin(e.op, expr(e.a, env), expr(e.b, env));
      case 'call':
        if ((e.f === 'min' || e.f === 'max' || e.f === 'pow') !== (e.args.length === 2)) throw new Unsupported(`Math.${e.f} arity`);
        return dag.call(e.f, e.args.map((a) => expr(a, env)));
      case 'sel':
        return dag.sel(expr(e.c, env), expr(e.a, env), expr(e.b, env));
    }
  };
  /** Value of a statement list under env; undefined when it falls off the end without returning. */
  const run = (stmts: readonly Stmt[], env0: Map<string, Expr>): Expr | undefined => {
    const env = new Map(env0);
    for (let k = 0; k < stmts.length; k++) {
      const st = stmts[k];
      if (st.s === 'return') return expr(st.e, env);
      if (st.s === 'decl' || st.s === 'assign') {
        if (st.s === 'assign' && !env.has(st.name)) throw new Unsupported(`assignment to undeclared ${st.name}`);
        env.set(st.name, expr(st.e, env));
        continue;
      }
      if (st.s !== 'if') continue;
      // if: the rest of the list runs after either branch
      const c = expr(st.c, env);
      const rest = stmts.slice(k + 1);
      const thenV = run([...st.then, ...rest], env);
      const elseV = run([...st.else, ...rest], env);
      if (!thenV || !elseV) return undefined;
      return isBool(thenV) || isBool(elseV) ? undefined : dag.sel(c, thenV, elseV);
    }
    return undefined;
  };
  const out = run(parseBody(src), env);
  if (!out) throw new Unsupported('body does not return a value on every path');
  if (isBool(out)) throw new Unsupported('body returns a boolean');
  return out;
}

// ---------------------------------------------------------------------------------------------------
// printing as JavaScript / gpu.js statements

/** A number as JavaScript text; `nonFinite` writes ±∞ and NaN (gpu.js kernels need `nonFiniteLit`). */
const fmtNum = (n: number, nonFinite?: (n: number) => string): string => {
  if (nonFinite && !Number.isFinite(n)) return nonFinite(n);
  if (Number.isNaN(n)) return '(0.0 / 0.0)';
  if (n === Infinity) return '(1.0 / 0.0)';
  if (n === -Infinity) return '(-1.0 / 0.0)';
  const s = String(n);
  const lit = s.includes('.') || s.includes('e') ? s : `${s}.0`;
  return n < 0 ? `(${lit})` : lit;
};

/** Number of uses of each node reachable from `root`. */
function useCounts(root: Expr): Map<Expr, number> {
  const uses = new Map<Expr, number>();
  const visit = (e: Expr): void => {
    const n = (uses.get(e) ?? 0) + 1;
    uses.set(e, n);
    if (n > 1) return;
    for (const c of children(e)) visit(c);
  };
  visit(root);
  return uses;
}

export const children = (e: Expr): readonly Expr[] =>
  e.k === 'un' ? [e.a] : e.k === 'bin' ? [e.a, e.b] : e.k === 'call' ? e.args : e.k === 'sel' ? [e.c, e.a, e.b] : [];

/** Nodes reachable from root, children first. */
export function topo(root: Expr): Expr[] {
  const out: Expr[] = [];
  const seen = new Set<Expr>();
  const stack: [Expr, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const ch = children(top[0]);
    if (top[1] < ch.length) {
      const c = ch[top[1]++];
      if (!seen.has(c)) {
        seen.add(c);
        stack.push([c, 0]);
      }
    } else {
      stack.pop();
      out.push(top[0]);
    }
  }
  return out;
}

/**
 * Statements computing `root`: numeric nodes used more than once, or that are calls, are bound to
 * `const t<id>`; booleans are always inlined (gpu.js types them poorly as variables). `input(i)` names
 * input i. Ends with `return …;` (gpu.js) or the given `sink` (JS loop); `nonFinite` writes ±∞ and NaN.
 */
export function printStatements(
  root: Expr,
  input: (i: number) => string,
  sink: (v: string) => string = (v) => `return ${v};`,
  nonFinite?: (n: number) => string,
): string {
  const uses = useCounts(root);
  const bound = new Set<Expr>();
  const lines: string[] = [];
  const ref = (e: Expr): string => {
    if (bound.has(e)) return `t${e.id}`;
    return inline(e);
  };
  const inline = (e: Expr): string => {
    switch (e.k) {
      case 'num':
        return fmtNum(e.v, nonFinite);
      case 'in':
        return input(e.i);
      case 'un':
        return e.op === 'neg' ? `(-${ref(e.a)})` : `(!${ref(e.a)})`;
      case 'bin':
        return `(${ref(e.a)} ${e.op} ${ref(e.b)})`;
      case 'call':
        return `Math.${e.f}(${e.args.map(ref).join(', ')})`;
      case 'sel':
        return `(${ref(e.c)} ? ${ref(e.a)} : ${ref(e.b)})`;
    }
  };
  for (const e of topo(root)) {
    if (e === root || e.k === 'num' || e.k === 'in' || isBool(e)) continue;
    if ((uses.get(e) ?? 0) > 1 || e.k === 'call') {
      lines.push(`const t${e.id} = ${inline(e)};`);
      bound.add(e);
    }
  }
  lines.push(sink(ref(root)));
  return lines.join('\n  ');
}

/** Does the expression use only what the WebAssembly SIMD emitter implements? */
export function wasmCompatible(root: Expr): boolean {
  return topo(root).every((e) => e.k !== 'call' || (e.f !== 'pow' && e.f !== 'sin' && e.f !== 'cos'));
}
