/**
 * A bridge variant's parameters declared once (the bridge's side of the transformer's var builder, in the spirit
 * of candle's `VarBuilder`): one `declare(vb, dims, options)` names each tensor, its shape and how it starts.
 * Run over an initialising builder it draws the parameters (`init`); run over a parameter tree it returns the
 * tensors `apply` uses, shapes checked and missing names named (`read`). Each module draws from its own key
 * (`vb.pp(name, i)`: the key `subKey(key, i)`), so the init is what `torchLinear(subKey(key, i), …)` gives.
 */
import { foldIn, full, randomUniform, zeros, type PRNGKey, type Tensor } from '@llm-modules/tensor';
import { layerNorm, linear, param } from '@llm-modules/transformer';
import type { BridgeContext, BridgeDims, Params } from './types.js';

/** How a declared tensor starts: drawn from the key of the module that declares it (`init` only runs in `init`). */
export type VarInit = (key: PRNGKey, shape: number[]) => Tensor;

/** Starts at 0. @example-skip a fragment: `vb` comes from the caller's code @example `vb.get('gate', [1], ZEROS)` */
export const ZEROS: VarInit = (_key, shape) => zeros(shape);
/** Starts at 1. @example-skip a fragment: `vb` comes from the caller's code @example `vb.get('scale', [8], ONES)` */
export const ONES: VarInit = (_key, shape) => full(shape, 1);

export interface BridgeVars {
  /** The parameter `name` (under this builder's prefix) of `shape`, starting as `init` says. */
  get(name: string, shape: readonly number[], init: VarInit): Tensor;
  /** The builder of a sub-module: names under `prefix.`; with `keyIndex`, its own key `subKey(key, keyIndex)`. */
  pp(prefix: string, keyIndex?: number): BridgeVars;
}

type Get = (name: string, shape: number[], init: VarInit, key: () => PRNGKey) => Tensor;

function builder(prefix: string, key: () => PRNGKey, get: Get): BridgeVars {
  return {
    get: (name, shape, init) => get(prefix ? `${prefix}.${name}` : name, [...shape], init, key),
    pp(p, i) {
      let k: PRNGKey | undefined;
      return builder(prefix ? `${prefix}.${p}` : p, i === undefined ? key : () => (k ??= foldIn(key(), i)), get);
    },
  };
}

const sameShape = (name: string, got: readonly number[], want: readonly number[]) => {
  if (got.length !== want.length || got.some((d, i) => d !== want[i])) throw new Error(`parameter "${name}" is [${got.join(', ')}], expected [${want.join(', ')}]`);
};

/**
 * The parameters `declare` asks for, drawn from `key`, in the order it asks (a name asked twice counts once).
 * @example
 * ```ts
 * import { initVars, torchLinearVars } from '@llm-modules/bridge';
 * import { prngKey } from '@llm-modules/tensor';
 * const p = initVars(prngKey(0), (vb) => torchLinearVars(vb.pp('proj'), 12, 8));
 * console.log(Object.keys(p)); // [ 'proj.weight', 'proj.bias' ]
 * ```
 */
export function initVars(key: PRNGKey, declare: (vb: BridgeVars) => unknown): Params {
  const out: Params = {};
  declare(
    builder('', () => key, (name, shape, init, k) => {
      if (!out[name]) out[name] = init(k(), shape);
      sameShape(name, out[name].shape, shape);
      return out[name];
    }),
  );
  return out;
}

/**
 * A builder that reads `params`: the tensor of each declared name, or an error naming a missing or mis-shaped one.
 * @example-skip a fragment: `params` comes from the caller's code
 * @example `const proj = torchLinearVars(readVars(params).pp('proj'), 12, 8)`
 */
export function readVars(params: Params): BridgeVars {
  return builder('', () => {
    throw new Error('readVars: a read does not draw');
  }, (name, shape) => {
    const t = param(params, name);
    sameShape(name, t.shape, shape);
    return t;
  });
}

/** A declared `nn.Linear`: `weight` `[out, in]`, `bias` `[out]` or null. */
export interface LinearVars {
  weight: Tensor;
  bias: Tensor | null;
}

/** A declared `nn.LayerNorm`. */
export interface LayerNormVars {
  weight: Tensor;
  bias: Tensor;
}

/**
 * `nn.Linear(inF, outF)` declared under `vb` with PyTorch's default init: weight and bias uniform in ±1/√inF
 * (weight from `foldIn(key, 0)`, bias from `foldIn(key, 1)` of `vb`'s key).
 * @example-skip a fragment: `vb` comes from the caller's code
 * @example `const proj = torchLinearVars(vb.pp('proj', 0), 1536, 768); applyLinear(proj, h) // [B, T, 768]`
 */
export function torchLinearVars(vb: BridgeVars, inF: number, outF: number, bias = true): LinearVars {
  const bound = 1 / Math.sqrt(inF);
  const uniform = (i: number): VarInit => (key, shape) => randomUniform(foldIn(key, i), shape, { min: -bound, max: bound });
  return { weight: vb.get('weight', [outF, inF], uniform(0)), bias: bias ? vb.get('bias', [outF], uniform(1)) : null };
}

/** `nn.LayerNorm(d)` declared under `vb`: weight 1, bias 0. @example-skip a fragment: `vb` comes from the caller's code @example `const n = torchLayerNormVars(vb.pp('norm'), 768)` */
export const torchLayerNormVars = (vb: BridgeVars, d: number): LayerNormVars => ({ weight: vb.get('weight', [d], ONES), bias: vb.get('bias', [d], ZEROS) });

/** `x · Wᵀ + b` of a declared linear. @example-skip a fragment: `proj` comes from the caller's code @example `applyLinear(proj, h) // [B, T, out]` */
export const applyLinear = (l: LinearVars, x: Tensor): Tensor => linear(x, l.weight, l.bias);

/** LayerNorm of `x` with declared parameters. @example-skip a fragment: `norm` comes from the caller's code @example `applyNorm(norm, h) // [B, T, D]` */
export const applyNorm = (n: LayerNormVars, x: Tensor, eps?: number): Tensor => layerNorm(x, n.weight, n.bias, eps);

/** A variant's `init` and its parameter reader, both from one declaration. */
export interface DeclaredVars<O, V> {
  /** Fresh parameters for `dims` (the variant's `init`). */
  init(dims: BridgeDims, options: O, key: PRNGKey): Params;
  /** The declared tensors of `params` for the context's dims and options (in `apply`, `memory`, a student hook). */
  read(params: Params, ctx: BridgeContext<O>): V;
}

/**
 * One declaration of a variant's parameters, used by its `init` and its `apply`.
 * @example
 * ```ts
 * import { declareVars, torchLinearVars } from '@llm-modules/bridge';
 * import { prngKey } from '@llm-modules/tensor';
 * const vars = declareVars((vb, dims, _o: object) => ({ proj: torchLinearVars(vb.pp('proj'), dims.teacher, dims.student) }));
 * const dims = { teacher: 12, student: 8, studentLayers: 2 };
 * const w = vars.read(vars.init(dims, {}, prngKey(0)), { options: {}, dims });
 * console.log(w.proj.weight.shape); // [ 8, 12 ]
 * ```
 */
export function declareVars<O, V>(declare: (vb: BridgeVars, dims: BridgeDims, options: O) => V): DeclaredVars<O, V> {
  return {
    init: (dims, options, key) => initVars(key, (vb) => declare(vb, dims, options)),
    read: (params, ctx) => declare(readVars(params), ctx.dims, ctx.options),
  };
}
