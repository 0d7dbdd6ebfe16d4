/**
 * Parameters declared once, in the spirit of candle's `VarBuilder`: a module asks its builder for each tensor by
 * name, shape and init rule. Run over a recording builder, the same code gives the model's shape table and init
 * plan; run over a parameter tree, it gives the tensors its forward uses (shapes checked, missing ones named).
 */
import { broadcastTo, tensor, type Tensor } from '@llm-modules/tensor';
import { param } from '../models/common.js';
import type { InitKind, ParameterInit, Params } from '../models/types.js';

/** How a declared parameter starts: Hugging Face's `_init_weights` kinds (normal draws take the model's std). */
export interface InitRule {
  kind: InitKind;
  /** normal(0, std) for `kind: 'normal'`. */
  std?: number;
  /** An embedding row zeroed after the draw (`padding_idx`). */
  zeroRow?: number | null;
}

export interface VarBuilder {
  /** The parameter `name` (under this builder's prefix) of `shape`, starting as `init` says. */
  get(name: string, shape: readonly number[], init: InitRule): Tensor;
  /** The builder of a sub-module: its names start with `prefix.`. */
  pp(prefix: string): VarBuilder;
}

const join = (prefix: string, name: string) => (prefix ? `${prefix}.${name}` : name);

function builder(prefix: string, get: (name: string, shape: readonly number[], init: InitRule) => Tensor): VarBuilder {
  return { get: (name, shape, init) => get(join(prefix, name), shape, init), pp: (p) => builder(join(prefix, p), get) };
}

/**
 * Every parameter `declare` asks for, in the order it asks (a name asked twice counts once), with its init plan.
 * The tensors it receives are placeholders (views of one zero, never evaluated); `defaultStd` fills the `std` of
 * rules that give none.
 * @example
 * ```ts
 * const plan = declaredParameters((vb) => vb.pp('proj').get('weight', [4, 3], { kind: 'normal', std: 0.02 }));
 * console.log(plan[0].name, plan[0].shape); // proj.weight [4, 3]
 * ```
 */
export function declaredParameters(declare: (vb: VarBuilder) => unknown, defaultStd = 0): ParameterInit[] {
  const plan = new Map<string, ParameterInit>();
  const zero = tensor([0]);
  declare(
    builder('', (name, shape, init) => {
      if (!plan.has(name)) {
        const p: ParameterInit = { name, shape: [...shape], init: init.kind, std: init.std ?? defaultStd };
        const row = init.zeroRow;
        if (init.kind === 'normal' && row !== undefined && row !== null && row >= 0 && row < shape[0]) p.zeroRow = row;
        plan.set(name, p);
      }
      return broadcastTo(zero, [...shape]);
    }),
  );
  return [...plan.values()];
}

/**
 * A builder that reads `params`: the tensor of each name, or an error naming a missing or mis-shaped parameter.
 * @example-skip a fragment: `params` comes from the caller's code
 * @example `const w = readParameters(params).pp('transformer.ln_f').get('weight', [768], { kind: 'ones' })`
 */
export function readParameters(params: Params): VarBuilder {
  return builder('', (name, shape) => {
    const t = param(params, name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`parameter "${name}" is [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    return t;
  });
}

/**
 * An `nn.Linear(inF, outF)` declared under `vb`: `weight` `[outF, inF]` (drawn as `init` says), `bias` `[outF]` zeros
 * @example-skip a fragment: `vb` comes from the caller's code
 * or none. @example `const o = linearVars(vb.pp('out_proj'), 768, 768, { kind: 'normal', std: 0.02 }); linear(x, o.weight, o.bias)`
 */
export function linearVars(vb: VarBuilder, inF: number, outF: number, init: InitRule, bias = true): { weight: Tensor; bias: Tensor | null } {
  return { weight: vb.get('weight', [outF, inF], init), bias: bias ? vb.get('bias', [outF], { kind: 'zeros' }) : null };
}

/** An `nn.LayerNorm(d)` declared under `vb`: weight ones, bias zeros. @example-skip a fragment: `vb` comes from the caller's code @example `const n = layerNormVars(vb.pp('ln_1'), 768)` */
export function layerNormVars(vb: VarBuilder, d: number): { weight: Tensor; bias: Tensor } {
  return { weight: vb.get('weight', [d], { kind: 'ones' }), bias: vb.get('bias', [d], { kind: 'zeros' }) };
}
