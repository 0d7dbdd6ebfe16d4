/**
 * `checkGrads`: compare reverse-mode derivatives with central finite differences, in float64 on the
 * `reference` backend, through the inner-product identity ⟨u, J·t⟩ = ⟨Jᵀ·u, t⟩ for a random tangent t
 * and a random cotangent u.
 */
import { evaluate, readFloat64, tensor, withBackend, type BackendName, type Tensor } from '@llm-modules/tensor';
import { vjp } from '../vjp.js';
import { leafPaths, treeFlatten, treeUnflatten, type TreeDef } from '../pytree.js';
import { mulberry32 } from './random.js';

export interface CheckGradsOptions {
  /** Check derivatives up to this order (default 1): order 2 also checks the vjp's own derivatives. */
  order?: number;
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-8). */
  atol?: number;
  /**
   * Relative tolerance, relative to Σ|uᵢ·(J·t)ᵢ| (default 1e-6). The tolerance also includes the
   * finite differences' own noise floor: 16 float64 ulps of each output value,
   * weighted by |uᵢ|, divided by 2·eps.
   */
  rtol?: number;
  /** Seed of the random tangent and cotangent (default 0). */
  seed?: number;
  /**
   * Backend that evaluates the autodiff gradients (default `reference`, float64). The finite
   * differences always run in float64 on `reference`, so a float32 backend is checked against float64
   * truth: loosen `atol`/`rtol` to float32 accuracy (~1e-3) for it.
   */
  backend?: BackendName;
  /** Arguments to differentiate (default all); the others are held fixed. */
  argnums?: readonly number[];
}

export interface CheckGradsResult {
  order: number;
  /** ⟨u, J·t⟩ from central differences. */
  numeric: number;
  /** ⟨vjp(u), t⟩ from autodiff. */
  analytic: number;
  tolerance: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => unknown;

const dot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + v * b[i], 0);
const absDot = (a: Float64Array, b: Float64Array): number => a.reduce((s, v, i) => s + Math.abs(v * b[i]), 0);

async function read(ts: readonly Tensor[]): Promise<Float64Array[]> {
  await evaluate(...ts);
  return Promise.all(ts.map((t) => readFloat64(t)));
}

const isFloat = (t: Tensor): boolean => t.dtype === 'float32';

/** Recreate every float leaf as a float64 host tensor (exact values on the reference backend). */
async function toFloat64(args: readonly unknown[]): Promise<unknown[]> {
  return Promise.all(
    args.map(async (a) => {
      const { leaves, def } = treeFlatten(a);
      const vals = await read(leaves.filter(isFloat));
      let k = 0;
      return treeUnflatten(def, leaves.map((l) => (isFloat(l) ? tensor(vals[k++], l.shape) : l)));
    }),
  );
}

interface Arg {
  def: TreeDef;
  leaves: Tensor[];
}

/** The float leaves of the differentiated arguments, with a way to substitute them. */
function variables(args: readonly unknown[], argnums: readonly number[]) {
  const flat: Arg[] = args.map((a) => treeFlatten(a));
  const slots = argnums.flatMap((i) => flat[i].leaves.map((l, j) => ({ i, j, leaf: l })).filter((s) => isFloat(s.leaf)));
  const paths = argnums.flatMap((i) => leafPaths(flat[i].def, `arg${i}`).filter((_, j) => isFloat(flat[i].leaves[j])));
  const substitute = (values: readonly Tensor[]): unknown[] => {
    const leaves = flat.map((a) => a.leaves.slice());
    slots.forEach((s, k) => (leaves[s.i][s.j] = values[k]));
    return flat.map((a, i) => (argnums.includes(i) ? treeUnflatten(a.def, leaves[i]) : args[i]));
  };
  return { slots, paths, substitute };
}

function randomLike(rand: () => number, shape: readonly number[]): Float64Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float64Array.from({ length: n }, () => 2 * rand() - 1);
}

/** ⟨u, (f(x + eps·t) − f(x − eps·t)) / 2eps⟩ and its absolute-value scale. */
async function numericDirectional(f: Fn, x: Float64Array[], t: Float64Array[], shapes: readonly (readonly number[])[], substitute: (v: Tensor[]) => unknown[], u: (Float64Array | null)[], eps: number) {
  const at = (sign: number) =>
    withBackend('reference', () => {
      const moved = x.map((v, k) => tensor(v.map((xi, i) => xi + sign * eps * t[k][i]), shapes[k]));
      const outs = treeFlatten(f(...substitute(moved))).leaves;
      return read(outs.map((o, i) => (u[i] ? o : null)).filter((o): o is Tensor => o !== null));
    });
  const [plus, minus] = [await at(1), await at(-1)];
  let value = 0;
  let scale = 0;
  let noise = 0;
  u.filter((c): c is Float64Array => c !== null).forEach((c, k) => {
    const jt = plus[k].map((p, i) => (p - minus[k][i]) / (2 * eps));
    value += dot(c, jt);
    scale += absDot(c, jt);
    noise += c.reduce((s, ci, i) => s + Math.abs(ci) * (Math.abs(plus[k][i]) + Math.abs(minus[k][i])), 0);
  });
  // Central differences cannot resolve below the rounding error of f itself: a few float64 ulps of each value.
  return { value, scale, noise: (16 * 2 ** -52 * noise) / (2 * eps) };
}

async function checkOnce(f: Fn, args: readonly unknown[], argnums: readonly number[], o: Required<Omit<CheckGradsOptions, 'argnums'>>, rand: () => number, order: number) {
  const { slots, paths, substitute } = variables(args, argnums);
  const shapes = slots.map((s) => s.leaf.shape);
  const x = await read(slots.map((s) => s.leaf));
  const [out, pullback] = vjp((...vals: Tensor[]) => f(...substitute(vals)), ...slots.map((s) => s.leaf));
  const { leaves: outs, def: outDef } = treeFlatten(out);
  const u = outs.map((l) => (isFloat(l) ? randomLike(rand, l.shape) : null));
  const t = slots.map((s) => randomLike(rand, s.leaf.shape));
  const uTree = treeUnflatten(outDef, outs.map((l, i) => (u[i] ? tensor(u[i]!, l.shape) : null)));
  const grads = await withBackend(o.backend, () => read(pullback(uTree as never) as Tensor[]));
  const analytic = grads.reduce((s, g, k) => s + dot(g, t[k]), 0);
  const analyticScale = grads.reduce((s, g, k) => s + absDot(g, t[k]), 0);
  const numeric = await numericDirectional(f, x, t, shapes, substitute, u, o.eps);
  const tolerance = o.atol + o.rtol * Math.max(numeric.scale, analyticScale) + numeric.noise;
  const result: CheckGradsResult = { order, numeric: numeric.value, analytic, tolerance };
  if (!(Math.abs(numeric.value - analytic) <= tolerance)) {
    // Locate the culprit: the same check one variable at a time.
    const lines: string[] = [];
    for (let k = 0; k < slots.length; k++) {
      const tk = t.map((v, j) => (j === k ? v : new Float64Array(v.length)));
      const nk = await numericDirectional(f, x, tk, shapes, substitute, u, o.eps);
      const ak = dot(grads[k], t[k]);
      const ok = Math.abs(nk.value - ak) <= o.atol + o.rtol * Math.max(nk.scale, absDot(grads[k], t[k])) + nk.noise;
      lines.push(`  ${ok ? 'ok ' : 'BAD'} ${paths[k]} [${shapes[k].join(', ')}]: numeric ${nk.value}, analytic ${ak}`);
    }
    throw new Error(
      `checkGrads (order ${order}): ⟨u, J·t⟩ = ${numeric.value} by central differences (eps ${o.eps}), ⟨vjp(u), t⟩ = ${analytic} by autodiff; ` +
        `|difference| ${Math.abs(numeric.value - analytic)} > tolerance ${tolerance}\n${lines.join('\n')}`,
    );
  }
  return { result, u: uTree };
}

/**
 * Check `f`'s reverse-mode derivatives against central finite differences: for a random tangent t
 * (over the float leaves of the differentiated arguments) and a random cotangent u (over the float
 * output leaves), ⟨u, (f(x+εt) − f(x−εt))/2ε⟩ must equal ⟨vjp(u), t⟩ within `atol + rtol·scale`.
 * Finite differences run in float64 on the `reference` backend; the gradients run on `backend`
 * (default `reference` too). With `order: 2` the pullback
 * (x, u) ↦ vjp(f, x)(u) is checked the same way (second derivatives), and so on. Integer and boolean
 * leaves are held fixed. Resolves to one result per order; rejects with a per-variable report.
 *
 * @example
 * ```ts
 * import { checkGrads } from '@llm-modules/autograd/testing';
 * import { tensor, tanh, mul } from '@llm-modules/tensor';
 * await checkGrads((x, y) => tanh(mul(x, y)), [tensor(new Float64Array([0.3, -1])), tensor(new Float64Array([2, 0.5]))], { order: 2 });
 * ```
 */
export async function checkGrads(f: Fn, args: readonly unknown[], options: CheckGradsOptions = {}): Promise<CheckGradsResult[]> {
  const o = { order: 1, eps: 1e-6, atol: 1e-8, rtol: 1e-6, seed: 0, backend: 'reference' as BackendName, ...options };
  return withBackend('reference', async () => {
    const rand = mulberry32(o.seed);
    let fn: Fn = f;
    let fnArgs = await toFloat64(args);
    let argnums = options.argnums ?? fnArgs.map((_, i) => i);
    const results: CheckGradsResult[] = [];
    for (let k = 1; k <= o.order; k++) {
      const { result, u } = await checkOnce(fn, fnArgs, argnums, o, rand, k);
      results.push(result);
      if (k === o.order) break;
      // Next order: the pullback as a function of (x, u), differentiated in both.
      const [prev, prevArgnums, n] = [fn, argnums, fnArgs.length];
      fn = (...xs: unknown[]) => {
        const primals = xs.slice(0, n);
        const g = (...d: unknown[]) => prev(...primals.map((p, i) => (prevArgnums.includes(i) ? d[prevArgnums.indexOf(i)] : p)));
        return vjp(g, ...prevArgnums.map((i) => primals[i]))[1](xs[n] as never);
      };
      fnArgs = [...fnArgs, u];
      argnums = [...prevArgnums, n];
    }
    return results;
  });
}
