/** Activation functions, as Hugging Face's `ACT2FN` computes them, written in tensor primitives. */
import { add, erf, geluTanh, greater, mul, sigmoid, tanh, where, type Tensor } from '@llm-modules/tensor';

/**
 * `gelu_new` (GPT-2 / GPT-Neo): `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, the tensor package's
 * `geluTanh` primitive (one kernel forward, one backward).
 * @example `await geluNew(tensor([0, 1])).data()` → [0, 0.8412]
 */
export const geluNew = (x: Tensor): Tensor => geluTanh(x);

/**
 * Exact GELU (`nn.GELU()`, HF `gelu`): `x·Φ(x) = 0.5·x·(1 + erf(x/√2))`.
 * @example `await gelu(tensor([0, 1])).data()` → [0, 0.8413]
 */
export function gelu(x: Tensor): Tensor {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/**
 * SiLU / swish (`silu`, Qwen2's `hidden_act`): `x·σ(x)`.
 * @example `await silu(tensor([0, 1])).data()` → [0, 0.7311]
 */
export const silu = (x: Tensor): Tensor => mul(x, sigmoid(x));

/** ReLU. @example `relu(tensor([-1, 2]))` → [0, 2] */
export const relu = (x: Tensor): Tensor => where(greater(x, 0), x, 0);

/** Activations by their Hugging Face config name (`activation_function`, `hidden_act`). */
export const ACT2FN: Readonly<Record<string, (x: Tensor) => Tensor>> = {
  gelu_new: geluNew,
  gelu_pytorch_tanh: geluNew,
  gelu_fast: geluNew,
  gelu,
  silu,
  swish: silu,
  relu,
  tanh,
  sigmoid,
};

/**
 * Look up an activation by config name; an unknown name throws, naming the known ones.
 * @example-skip a fragment: `x` comes from the caller's code
 * @example `activation('gelu_new')(x)`
 */
export function activation(name: string): (x: Tensor) => Tensor {
  const f = ACT2FN[name];
  if (!f) throw new Error(`unknown activation "${name}" (known: ${Object.keys(ACT2FN).join(', ')})`);
  return f;
}
