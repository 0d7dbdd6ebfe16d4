/** Feed-forward blocks of the two model families. */
import { mul, type Tensor } from '@llm-modules/tensor';
import { activation, silu } from './activations.js';
import { linear } from './linear.js';

/** Weights of GPT-Neo's MLP (`mlp.c_fc`, `mlp.c_proj`, both with bias). */
export interface GPTNeoMLPParams {
  c_fc_weight: Tensor;
  c_fc_bias: Tensor;
  c_proj_weight: Tensor;
  c_proj_bias: Tensor;
}

/**
 * GPT-Neo MLP: `c_proj(act(c_fc(x)))` with `act` = `gelu_new` by default (`activation_function`).
 * @example-skip a fragment: `x` comes from the caller's code
 * @example `gptNeoMLP(x, { c_fc_weight, c_fc_bias, c_proj_weight, c_proj_bias })`
 */
export function gptNeoMLP(x: Tensor, p: GPTNeoMLPParams, act = 'gelu_new'): Tensor {
  const h = activation(act)(linear(x, p.c_fc_weight, p.c_fc_bias)); // [B, T, I]
  return linear(h, p.c_proj_weight, p.c_proj_bias); // [B, T, D]
}

/** Weights of a gated MLP (Qwen2's `mlp.{gate,up,down}_proj`, no biases). */
export interface SwiGLUParams {
  gate_proj: Tensor;
  up_proj: Tensor;
  down_proj: Tensor;
}

/**
 * SwiGLU MLP (Qwen2MLP): `down(act(gate(x)) ⊙ up(x))`, `act` = SiLU unless `act` is given.
 * @example-skip a fragment: `x` comes from the caller's code
 * @example `swiGLU(x, { gate_proj, up_proj, down_proj })`
 */
export function swiGLU(x: Tensor, p: SwiGLUParams, act: (x: Tensor) => Tensor = silu): Tensor {
  const h = mul(act(linear(x, p.gate_proj)), linear(x, p.up_proj)); // [B, T, I]
  return linear(h, p.down_proj); // [B, T, D]
}
