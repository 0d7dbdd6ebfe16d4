/** `customVjp` (a hand-written gradient for a function) and `checkpoint` (recompute instead of keep). */
import { definePrimitive, isTensor, node, zeros, type Attrs, type Tensor } from '@llm-modules/tensor';
import { backward, freeVariables, record } from './backprop.js';
import { leavesLike, treeFlatten, treeUnflatten, type PyTree, type TreeDef } from './pytree.js';
import type { Cotangent } from './vjp.js';

/** Id of the next tensor to be created: tensors with a smaller id existed before a traced call. */
const nextTensorId = (): number => node('autograd.input', [], 'float32', []).id + 1;

const shapesEqual = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

interface CustomRule {
  readonly bwd: (residuals: unknown, cotangent: PyTree) => unknown;
  readonly residuals: unknown;
  readonly outDef: TreeDef;
  readonly outs: readonly Tensor[];
  readonly argDefs: readonly TreeDef[];
  readonly argLeaves: readonly Tensor[];
}

definePrimitive({
  name: 'autograd.customVjp',
  view: (_n, v) => v,
  // inputs: [the forward output leaf, ...the float32 argument leaves]
  vjp: (g, n) => {
    const { rule, index } = n.attrs as { rule: CustomRule; index: number };
    const cts = rule.outs.map((o, i) => (i === index ? g : zeros(o.shape)));
    const grads = rule.bwd(rule.residuals, treeUnflatten(rule.outDef, cts));
    if (!Array.isArray(grads) || grads.length !== rule.argDefs.length) {
      throw new Error(`customVjp: bwd must return an array with one cotangent tree per argument (${rule.argDefs.length})`);
    }
    const leaves = rule.argDefs.flatMap((d, i) => leavesLike(d, grads[i], `customVjp bwd (argument ${i})`));
    const out: (Tensor | null)[] = [null];
    rule.argLeaves.forEach((x, j) => {
      if (x.dtype !== 'float32') return;
      const gx = leaves[j];
      if (gx !== null && gx !== undefined && (!isTensor(gx) || !shapesEqual(gx.shape, x.shape))) {
        throw new Error(`customVjp: bwd returned ${isTensor(gx) ? `shape [${gx.shape.join(', ')}]` : typeof gx} for an argument leaf of shape [${x.shape.join(', ')}]`);
      }
      out.push((gx as Tensor | null | undefined) ?? null);
    });
    return out;
  },
});

/**
 * Give `f` a hand-written gradient (e.g. for a fused kernel, or a numerically better rule).
 * `fwd(...args)` returns `[out, residuals]` where `out` equals `f(...args)`; `bwd(residuals, ct)` gets
 * the output cotangent (`ct`, same tree as `out`, zeros where no gradient arrives) and returns one
 * cotangent tree per argument (`null` = zero). Pass `fwd` as `undefined` to use `f` itself with the
 * arguments as residuals. `bwd` written with tensor ops is differentiable again (second order).
 * Tensors that need gradients must be arguments: closing over a traced tensor is an error.
 *
 * @example
 * ```ts
 * import { customVjp } from '@llm-modules/autograd';
 * import { exp, log, add, mul, div } from '@llm-modules/tensor';
 * // log(1 + e^x) with the stable gradient sigmoid(x) = e^x / (1 + e^x)
 * const softplus = customVjp(
 *   (x) => log(add(1, exp(x))),
 *   (x) => [log(add(1, exp(x))), x],
 *   (x, g) => [mul(g, div(exp(x), add(1, exp(x))))],
 * );
 * ```
 */
export function customVjp<A extends unknown[], R, Res>(
  f: (...args: A) => R,
  fwd: ((...args: A) => [R, Res]) | undefined,
  bwd: (residuals: Res, cotangent: R) => { [K in keyof A]: Cotangent<A[K]> },
): (...args: A) => R {
  return (...args: A): R => {
    const start = nextTensorId();
    const [out, residuals] = fwd ? fwd(...args) : [f(...args), args as unknown as Res];
    const { leaves: outs, def: outDef } = treeFlatten(out);
    const flat = args.map((a) => treeFlatten(a));
    const argLeaves = flat.flatMap((a) => a.leaves);
    const floatArgs = argLeaves.filter((x) => x.dtype === 'float32');
    const argSet = new Set(argLeaves);
    const captured = freeVariables([...outs, ...treeFlatten(residuals).leaves], start).filter((v) => !argSet.has(v));
    if (captured.some((v) => v.op === 'autograd.input')) {
      throw new Error('customVjp: f closes over a tensor that is being differentiated; pass it as an argument');
    }
    const rule: CustomRule = { bwd: bwd as CustomRule['bwd'], residuals, outDef, outs, argDefs: flat.map((a) => a.def), argLeaves };
    const wrapped = outs.map((o, index) =>
      o.dtype === 'float32' ? node('autograd.customVjp', o.shape, o.dtype, [o, ...floatArgs], { rule, index } as Attrs) : o,
    );
    return treeUnflatten<R>(outDef, wrapped);
  };
}

interface CheckpointState {
  readonly recompute: () => Tensor[];
  recomputed?: Tensor[];
}

definePrimitive({
  name: 'autograd.checkpoint',
  view: (_n, v) => v,
  // inputs: [the forward output leaf, ...the float32 tensors the forward read that existed before it ran]
  vjp: (g, n, inputs) => {
    const { state, index } = n.attrs as { state: CheckpointState; index: number };
    // The forward is rebuilt from its inputs: fresh nodes, so the original intermediates are not
    // referenced by the backward graph and were freed after the forward pass.
    const again = (state.recomputed ??= state.recompute());
    const o = again[index];
    if (!o || o.shape.length !== n.shape.length || o.shape.some((d, k) => d !== n.shape[k])) {
      throw new Error('checkpoint: recomputing f gave a different output: f must be pure (same inputs → same graph)');
    }
    const sources = inputs.slice(1);
    const reached = backward(record([o], sources), [[o, g]]);
    return [null, ...sources.map((v) => reached.get(v) ?? null)];
  },
});

/**
 * Gradient checkpointing: `checkpoint(f)` computes the same values as `f`, but its backward pass
 * recomputes `f`'s forward from `f`'s inputs instead of keeping `f`'s intermediate activations alive
 * from the forward pass, trading compute for memory (wrap each transformer block). `f` must be pure
 * (same inputs → same graph; use explicit random keys). Parameters may be arguments or closed over.
 * With several output tensors, the recomputed forward is built once and shared.
 *
 * @example
 * ```ts
 * import { checkpoint, valueAndGrad } from '@llm-modules/autograd';
 * import { add, matmul, mean, tanh, tensor } from '@llm-modules/tensor';
 * const block = checkpoint((w, h) => add(h, tanh(matmul(h, w)))); // its activations are recomputed in the backward pass
 * const params = { layers: [tensor([[0.1, 0.2], [0.3, 0.4]]), tensor([[0.5, -0.1], [0.2, 0.1]])] };
 * const loss = (p: typeof params, x: ReturnType<typeof tensor>) => mean(p.layers.reduce((h, w) => block(w, h), x));
 * const [value, grads] = valueAndGrad(loss)(params, tensor([[1, 2]]));
 * console.log((await grads.layers[0].array()).length); // 2: same gradients as without checkpoint
 * ```
 */
export function checkpoint<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    const start = nextTensorId();
    const out = f(...args);
    const { leaves: outs, def } = treeFlatten(out);
    const free = freeVariables(outs, start);
    const state: CheckpointState = { recompute: () => treeFlatten(f(...args)).leaves };
    const wrapped = outs.map((o, index) =>
      o.dtype === 'float32' && o.id >= start ? node('autograd.checkpoint', o.shape, o.dtype, [o, ...free], { state, index } as Attrs) : o,
    );
    return treeUnflatten<R>(def, wrapped);
  };
}
