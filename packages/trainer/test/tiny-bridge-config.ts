/** The tiny bridge-mode train config the trainer's bridge tests share: the shipped knowledge-transfer teacher, a one-block student. */
import { fileURLToPath } from 'node:url';
import { checkTrainConfig } from '../src/node.js';

/** examples/knowledge-transfer: the shipped teacher, tokenizer and facts the configs name relative to it. */
export const example = fileURLToPath(new URL('../../../examples/knowledge-transfer/', import.meta.url));

/** A checked config training `bridge` for `maxSteps` into `output`; `extra` overrides top-level fields. */
export const tinyBridgeConfig = (output: string, bridge: object, maxSteps: number, extra: object = {}) =>
  checkTrainConfig({
    mode: 'bridge',
    teacher: 'teacher',
    tokenizer: 'tokenizer',
    bridge,
    model: { config: { model_type: 'gpt_neo', vocab_size: 347, hidden_size: 16, num_layers: 1, num_heads: 2, intermediate_size: 32, max_position_embeddings: 48, attention_types: [[['global'], 1]] } },
    data: { train: 'facts.jsonl', maxLength: 40, subset: 0.02, validationFraction: 0.25 },
    optimizer: { lr: 0.003 },
    training: { maxSteps, batchSize: 4, seed: 1 },
    output,
    ...extra,
  }, 'code');
