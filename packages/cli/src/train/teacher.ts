/**
 * The frozen teacher of a bridge run. With a teacher cache its weights stay on disk: the cache's fingerprint
 * streams them one tensor at a time, and they are loaded only while the cache is being written. That keeps a
 * Qwen2-1.5B teacher (6.2 GB as float32) out of the memory of training from the cache.
 */
import { forEachSafetensor, inspectSafetensors, loadConfig } from '@llm-modules/loaders';
import { checkWeights, createModel, loadPretrained, type CausalLM, type Params } from '@llm-modules/transformer';
import type { TeacherWeightStream } from '@llm-modules/trainer';

export interface Teacher {
  dir: string;
  model: CausalLM;
  /** Filled by `load`, emptied by `release`; the same object throughout, so a composed model sees both. */
  params: Params;
  /** Its weights from its files, one tensor at a time (for `cacheFingerprint`). */
  weights: TeacherWeightStream;
  load(): Promise<void>;
  release(): void;
}

/**
 * Open the teacher folder `dir`: config and weight names and shapes are checked now; the weights are read now
 * unless `lazy`.
 * @example `const teacher = await openTeacher('models/Qwen2-1.5B', { lazy: true }); await teacher.load();`
 */
export async function openTeacher(dir: string, opts: { lazy: boolean; onProgress?: (doneBytes: number, totalBytes: number) => void }): Promise<Teacher> {
  const model = createModel(await loadConfig(dir));
  checkWeights(dir, model, (await inspectSafetensors(dir)).tensors);
  const params: Params = {};
  const teacher: Teacher = {
    dir,
    model,
    params,
    weights: {
      names: [...model.parameterShapes().keys()],
      visit: (names, fn) => forEachSafetensor(dir, names, (r) => fn(r.name, r.shape, r.data)),
    },
    async load() {
      if (Object.keys(params).length) return;
      Object.assign(params, (await loadPretrained(dir, { tokenizer: false, onProgress: opts.onProgress })).params);
    },
    release() {
      for (const k of Object.keys(params)) delete params[k];
    },
  };
  if (!opts.lazy) await teacher.load();
  return teacher;
}
