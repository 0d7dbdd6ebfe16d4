/**
 * An example bridge variant defined outside the package: a **low-rank decay bridge**. No softmax attention:
 * each teacher state is normalised and squeezed to `rank` numbers (position-wise, so decoding caches it), the
 * student's input at position i is a learned exponential moving average of those codes over positions j ≤ i
 * (weights (1−α)·α^(i−j), α = sigmoid(θ) learned), plus the code of position i itself, expanded back to the
 * student width. Causal by construction; about 2·rank·(Dt + Ds) parameters instead of the millions of `enhanced`.
 */
import { add, arange, cast, exp, full, greaterEqual, log, matmul, maximum, mul, reshape, sigmoid, sub, where, type Tensor } from '@llm-modules/tensor';
import { applyLinear, applyNorm, declareVars, defineBridge, queryWindow, rows, torchLayerNormVars, torchLinearVars, type BridgeContext, type Params } from '@llm-modules/bridge';

export interface LowRankOptions {
  /** Width of the code each teacher state is squeezed to. */
  rank: number;
  /** Initial decay α of the moving average (θ = logit(α)). */
  decay: number;
}

/** Each parameter once: name, shape and how it starts (`vb.pp(name, i)`: the module draws from its own key). */
const vars = declareVars((vb, dims, o: LowRankOptions) => ({
  norm: torchLayerNormVars(vb.pp('norm'), dims.teacher),
  // one key per module: a shared key would start `up` and `skip` bit-identical
  down: torchLinearVars(vb.pp('down', 0), dims.teacher, o.rank),
  up: torchLinearVars(vb.pp('up', 1), o.rank, dims.student),
  skip: torchLinearVars(vb.pp('skip', 2), o.rank, dims.student),
  theta: vb.get('theta', [1], (_key, shape) => full(shape, Math.log(o.decay / (1 - o.decay)))), // [1] logit(α)
}));

/** The code of each teacher state: `down(LN(H))` `[B, T, r]` (position-wise, so decoding caches it). */
const code = (w: ReturnType<typeof vars.read>, H: Tensor): Tensor => applyLinear(w.down, applyNorm(w.norm, H)); // [B, T, r]

/** The moving-average weights `[B|1, Tq, Tk]`: (1 − α)·α^(i−j) for keys j ≤ query i (absolute i = q0 + row), pads 0. */
function decayWeights(theta: Tensor, q0: number, Tq: number, Tk: number, mask: Tensor | null | undefined): Tensor {
  const alpha = sigmoid(theta); // [1]
  const d = cast(sub(reshape(add(arange(Tq), q0), [Tq, 1]), reshape(arange(Tk), [1, Tk])), 'float32'); // [Tq, Tk] i − j
  const w = mul(sub(1, alpha), exp(mul(maximum(d, 0), log(alpha)))); // [Tq, Tk] (max(…, 0): no overflow above the diagonal)
  const causal = where(greaterEqual(d, 0), w, 0); // [Tq, Tk]
  return mask ? mul(reshape(causal, [1, Tq, Tk]), reshape(cast(mask, 'float32'), [mask.shape[0], 1, Tk])) : reshape(causal, [1, Tq, Tk]); // [B|1, Tq, Tk]
}

/**
 * @example
 * ```ts
 * import { composeModel, registerBridge } from '@llm-modules/bridge';
 * import { lowRank } from './low-rank.js';
 * registerBridge(lowRank); // from outside the package: composeModel({ bridge: 'low-rank' }) and saved folders now find it
 * const model = composeModel({ teacher, student: { model: student }, bridge: { variant: 'low-rank', options: { rank: 8 } } });
 * ```
 */
export const lowRank = defineBridge<LowRankOptions>({
  name: 'low-rank',
  description: 'low-rank codes of the teacher states, mixed by a learned causal exponential moving average',
  options: { rank: 16, decay: 0.5 },
  causal: () => true,
  init: vars.init,
  memory: (p, H, ctx) => ({ code: code(vars.read(p, ctx), H) }), // [B, T, r]
  apply(p: Params, H: Tensor, ctx: BridgeContext<LowRankOptions>): Tensor {
    const w = vars.read(p, ctx);
    const codes = ctx.memory?.code ?? code(w, H); // [B, Tk, r]
    const Tk = H.shape[1];
    const { q0, Tq } = queryWindow(ctx, Tk);
    const mixed = matmul(decayWeights(w.theta, q0, Tq, Tk, ctx.attentionMask), codes); // [B, Tq, r]
    return add(applyLinear(w.up, mixed), applyLinear(w.skip, rows(codes, q0, Tq))); // [B, Tq, Ds]
  },
});
