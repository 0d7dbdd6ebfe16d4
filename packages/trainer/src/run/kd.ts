/**
 * `training.kd` of a train config: knowledge distillation from a frozen teacher's next-token distribution. A
 * bridge run distils from its own `teacher`; an lm run (the student alone) names its teacher in `kd.teacher`.
 */
import type { Tokenizer } from '@llm-modules/loaders';
import type { Tensor } from '@llm-modules/tensor';
import { loadPretrained, type CausalLM, type Params } from '@llm-modules/transformer';
import { TrainConfigError, type TrainConfig } from '../config/validate.js';
import type { KdOptions } from '../distill.js';

/**
 * The config's KD settings, checked against its mode (null when absent or of weight 0).
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `kdSettings(cfg, 'train.json') // { weight: 0.5, temperature: 2, teacher: undefined }`
 */
export function kdSettings(cfg: TrainConfig, file: string): (KdOptions & { teacher?: string }) | null {
  const kd = cfg.training?.kd;
  if (!kd) return null;
  if (cfg.mode === 'bridge') {
    if (kd.teacher !== undefined) throw new TrainConfigError(file, 'training.kd.teacher is for mode "lm": a bridge distils from its own teacher');
    // the cache holds the hidden states the bridge reads, not the teacher's next-token distribution
    if (cfg.teacherCache) throw new TrainConfigError(file, 'training.kd needs the teacher\'s logits each step, which teacherCache does not hold: drop teacherCache or training.kd');
  } else if (kd.teacher === undefined) {
    throw new TrainConfigError(file, 'training.kd.teacher: mode "lm" needs the frozen teacher\'s model folder to distil from');
  }
  return kd.weight === 0 ? null : { weight: kd.weight, temperature: kd.temperature ?? 1, weighting: kd.weighting ?? 'uniform', teacher: kd.teacher };
}

/**
 * A frozen model's head `[V, D]`: its `lm_head.weight`, or the token table it is tied to.
 * @example-skip a fragment: needs a loaded model
 * @example `const logits = linear(lastHiddenState, headOf(teacher.model, teacher.params))`
 */
export function headOf(model: CausalLM, params: Params): Tensor {
  const name = model.roles.lmHead ?? model.roles.tokenEmbedding;
  const head = params[name];
  if (!head) throw new Error(`distillation: the teacher has no parameter "${name}" (its head)`);
  return head;
}

/**
 * An lm run's frozen teacher (`training.kd.teacher`), loaded and checked: every id of the run's tokenizer must be
 * one of its vocabulary's, else its distribution is not over the student's tokens.
 * @example-skip reads a model folder
 * @example `const teacher = await distillingTeacher('examples/knowledge-transfer/teacher', tok, 'student.train.json')`
 */
export async function distillingTeacher(dir: string, tok: Tokenizer, file: string): Promise<{ model: CausalLM; params: Params }> {
  let loaded;
  try {
    loaded = await loadPretrained(dir, { tokenizer: false, keepBFloat16: true }); // frozen: BF16 stays bfloat16
  } catch (err) {
    throw new TrainConfigError(file, `training.kd.teacher: ${(err as Error).message}`);
  }
  const vocab = loaded.model.config.vocab_size;
  if (tok.vocabSize > vocab) throw new TrainConfigError(file, `training.kd.teacher: the teacher ${dir} has ${vocab} tokens but the tokenizer ${tok.dir} has ${tok.vocabSize}: they must share one vocabulary`);
  return { model: loaded.model, params: loaded.params };
}
