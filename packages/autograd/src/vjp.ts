/** `vjp`, `grad` and `valueAndGrad` over pytrees. */
import { definePrimitive, isBFloat16Resident, isTensor, node, ones, zeros, type Tensor } from '@llm-modules/tensor';
import { backward, record } from './backprop.js';
import { leafPaths, leavesLike, treeFlatten, treeUnflatten } from './pytree.js';

/**
 * `autograd.input`: the identity node that marks one differentiated argument leaf. Every argument leaf
 * gets its own marker, so `f(x, x)` has separate partial derivatives for each argument, a tensor
 * returned unchanged by `f` is still an output that depends on it, and nested `grad`s do not mix up
 * their variables. It is a view (no data moves).
 */
definePrimitive({
  name: 'autograd.input',
  view: (_n, v) => v,
  vjp: (g) => [g],
});

/** A gradient tree: the argument's structure, a float32 tensor for every tensor leaf, `null` for static leaves. */
export type Grad<T> = T extends Tensor
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: Grad<T[K]> }
    : T extends object
      ? { -readonly [K in keyof T]: Grad<T[K]> }
      : null;

/** A cotangent tree: the output's structure, with a tensor of the leaf's shape or `null` (zero) for each leaf. */
export type Cotangent<T> = T extends Tensor
  ? Tensor | null
  : T extends readonly unknown[]
    ? { [K in keyof T]: Cotangent<T[K]> } | null
    : T extends object
      ? { [K in keyof T]?: Cotangent<T[K]> } | null
      : null | undefined;

/**
 * Reverse-mode derivative of `f` at `primals`: returns `f`'s output and a pullback that maps a
 * cotangent of the output (same tree; `null` leaves are zero) to one gradient tree per primal.
 *
 * Rules: float32 leaves are differentiated; an int32/bool leaf gets a float32 zero tensor of its shape
 * (no gradient flows into integers); static leaves (numbers, strings, …) get `null`. `f` must be
 * synchronous and pure: it builds the lazy graph that the pullback walks. Nothing is evaluated here;
 * evaluate the output and the gradients together (`evaluate(out, ...treeLeaves(grads))`) to run the
 * forward pass once.
 *
 * @example
 * ```ts
 * import { vjp } from '@llm-modules/autograd';
 * import { tensor, mul, sin } from '@llm-modules/tensor';
 * const [y, pullback] = vjp((x) => mul(sin(x), 2), tensor([0, 1]));
 * const [dx] = pullback(tensor([1, 1]));
 * console.log(await dx.data()); // 2·cos(x) = [2, 1.0806…]
 * ```
 */
export function vjp<A extends unknown[], R>(f: (...args: A) => R, ...primals: A): [R, (cotangent: Cotangent<R>) => GradTuple<A>] {
  const flat = primals.map((p) => treeFlatten(p));
  flat.forEach(({ leaves, def }, i) => {
    const k = leaves.findIndex((l) => isTensor(l) && isBFloat16Resident(l));
    if (k >= 0) throw new Error(`vjp: argument ${i + 1} at ${leafPaths(def)[k]} is held as bfloat16 (frozen weights, bfloat16Tensor): no gradient is computed with respect to it; load it as float32 to train it, or pass it outside the differentiated arguments`);
  });
  const markers = flat.map(({ leaves }) => leaves.map((l) => (l.dtype === 'float32' ? node('autograd.input', l.shape, l.dtype, [l]) : l)));
  const traced = flat.map(({ def }, i) => treeUnflatten<unknown>(def, markers[i])) as A;
  const out = f(...traced);
  const { leaves: outs, def: outDef } = treeFlatten(out);
  const sources = markers.flatMap((ms, i) => ms.filter((m, j) => m !== flat[i].leaves[j]));
  const tape = record(outs, sources);
  const pullback = (cotangent: unknown): unknown[] => {
    const cts = leavesLike(outDef, cotangent, 'vjp cotangent');
    const paths = leafPaths(outDef);
    const seeds = outs.map((o, i): [Tensor, Tensor | null] => {
      const c = cts[i];
      if (c !== null && c !== undefined && !isTensor(c)) throw new Error(`vjp: the cotangent at ${paths[i]} must be a Tensor or null, got ${typeof c}`);
      if (c && c.dtype !== 'float32') throw new Error(`vjp: the cotangent at ${paths[i]} must be float32, got ${c.dtype}`);
      if (c && (c.shape.length !== o.shape.length || c.shape.some((d, k) => d !== o.shape[k]))) {
        throw new Error(`vjp: the cotangent at ${paths[i]} has shape [${c.shape.join(', ')}], the output has shape [${o.shape.join(', ')}]`);
      }
      return [o, o.dtype === 'float32' ? (c ?? null) : null];
    });
    const reached = backward(tape, seeds);
    return flat.map(({ def, leaves }, i) =>
      treeUnflatten(
        def,
        leaves.map((l, j) => reached.get(markers[i][j]) ?? zeros(l.shape)),
        { staticAs: null },
      ),
    );
  };
  return [out, pullback as (cotangent: Cotangent<R>) => GradTuple<A>];
}

export interface GradOptions {
  /** `f` returns `[loss, aux]`: only `loss` is differentiated; `aux` (any pytree) is returned alongside. */
  hasAux?: boolean;
}

type Argnums = number | readonly number[];
/** One gradient tree per argument. */
export type GradTuple<A extends unknown[]> = { [K in keyof A]: Grad<A[K]> };
type GradsFor<A extends unknown[], N> = N extends number ? Grad<A[N]> : { -readonly [K in keyof N]: N[K] extends number ? Grad<A[N[K]]> : never };

/**
 * `f` (a scalar-valued function of pytrees) → a function returning `[value, grads]`, where `grads` is
 * the gradient with respect to argument `argnums` (default 0), or a tuple of gradients when `argnums`
 * is an array. With `{ hasAux: true }`, `f` returns `[loss, aux]` and the value is `[loss, aux]`.
 * The value must be a float32 tensor with one element.
 *
 * @example
 * ```ts
 * import { valueAndGrad, treeLeaves } from '@llm-modules/autograd';
 * import { evaluate, matmul, mean, mul, sub, tensor } from '@llm-modules/tensor';
 * const params = { 'lm_head.weight': tensor([[0.5], [-0.5]]) };
 * const batch = { x: tensor([[1, 2], [3, 4]]), y: tensor([[1], [0]]) };
 * const loss = (p: typeof params, b: typeof batch) => {
 *   const err = sub(matmul(b.x, p['lm_head.weight']), b.y);
 *   return mean(mul(err, err));
 * };
 * const [value, grads] = valueAndGrad(loss)(params, batch); // gradients with respect to params
 * await evaluate(value, ...treeLeaves(grads));
 * console.log(await value.data(), await grads['lm_head.weight'].array()); // [1.25] [[-3], [-5]]
 * ```
 */
export function valueAndGrad<A extends unknown[], const N extends Argnums = 0>(
  f: (...args: A) => unknown,
  argnums?: N,
  options: GradOptions = {},
): (...args: A) => [Tensor, GradsFor<A, N>] {
  const nums: number[] = argnums === undefined ? [0] : typeof argnums === 'number' ? [argnums] : [...(argnums as readonly number[])];
  return (...args: A) => {
    for (const n of nums) {
      if (!Number.isInteger(n) || n < 0 || n >= args.length) throw new Error(`valueAndGrad: argnums ${n} is out of range for ${args.length} arguments`);
    }
    if (new Set(nums).size !== nums.length) throw new Error(`valueAndGrad: argnums [${nums.join(', ')}] repeats an argument`);
    let aux: unknown = null;
    const g = (...diff: unknown[]): Tensor => {
      const full = args.slice();
      nums.forEach((n, i) => (full[n] = diff[i]));
      let r = f(...(full as A));
      if (options.hasAux) {
        if (!Array.isArray(r) || r.length !== 2) throw new Error('valueAndGrad: with hasAux, f must return [loss, aux]');
        [r, aux] = r as [unknown, unknown];
      }
      if (!isTensor(r) || r.dtype !== 'float32' || r.size !== 1) {
        const got = isTensor(r) ? `a ${r.dtype} tensor of shape [${r.shape.join(', ')}]` : typeof r;
        throw new Error(`valueAndGrad: f must return a scalar (a float32 tensor with one element), got ${got}; use vjp for other outputs`);
      }
      return r;
    };
    const [value, pullback] = vjp(g, ...nums.map((n) => args[n]));
    const grads = pullback(ones(value.shape)) as unknown[];
    const out = typeof argnums === 'number' || argnums === undefined ? grads[0] : grads;
    return [(options.hasAux ? [value, aux] : value) as Tensor, out as GradsFor<A, N>];
  };
}

/**
 * `f` (a scalar-valued function of pytrees) → its gradient function, with respect to argument
 * `argnums` (default 0; an array gives a tuple). Gradients of gradients work: `grad(grad(f))`.
 * With `{ hasAux: true }` (`f` returns `[loss, aux]`) the function returns `[grads, aux]`.
 *
 * @example
 * ```ts
 * import { grad } from '@llm-modules/autograd';
 * import { tensor, tanh, sum } from '@llm-modules/tensor';
 * const d2 = grad((x) => sum(grad((y) => sum(tanh(y)))(x)));
 * console.log(await d2(tensor([0.5])).data()); // −2·tanh·(1 − tanh²) at 0.5
 * ```
 */
export function grad<A extends unknown[], const N extends Argnums = 0>(f: (...args: A) => unknown, argnums?: N, options: GradOptions = {}): (...args: A) => GradsFor<A, N> {
  const vg = valueAndGrad<A, N>(f, argnums, options);
  return (...args: A) => {
    const [value, grads] = vg(...args);
    return (options.hasAux ? [grads, (value as unknown as unknown[])[1]] : grads) as GradsFor<A, N>;
  };
}
