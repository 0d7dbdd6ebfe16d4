/**
 * The frozen teacher of a bridge run. With a teacher cache its weights stay on disk: the cache's fingerprint
 * streams them one tensor at a time, and they are loaded only while the cache is being written. That keeps a
 * Qwen2-1.5B teacher (6.2 GB as float32) out of the memory of training from the cache. A bridge folder records the
 * teacher's content fingerprint and absolute paths, so it can move (`relocationFields`).
 */
import { resolve } from 'node:path';
import { forEachSafetensor, inspectSafetensors, loadConfig } from '@llm-modules/loaders';
import type { Tensor } from '@llm-modules/tensor';
import { checkWeights, createModel, loadPretrained, type CausalLM, type Params, type Pretrained } from '@llm-modules/transformer';
import { cacheFingerprint, type TeacherWeightStream } from '../teacher-cache.js';

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
 * @example-skip reads a teacher model folder (models/Qwen2-1.5B)
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
      // frozen: BF16 weight matrices stay bfloat16 in memory (half of float32), decoded inside the kernels
      Object.assign(params, (await loadPretrained(dir, { tokenizer: false, onProgress: opts.onProgress, keepBFloat16: true })).params);
    },
    release() {
      for (const k of Object.keys(params)) delete params[k];
    },
  };
  if (!opts.lazy) await teacher.load();
  return teacher;
}

/**
 * A teacher's content fingerprint: its config and every parameter's name, shape and values (the teacher part of the
 * teacher-cache fingerprint, so a run with a cache records it for free).
 * @example-skip a fragment: needs a teacher loaded with loadPretrained
 * @example `const fp = await teacherFingerprint(await loadPretrained('teacher', { tokenizer: false })) // 32 hex digits`
 */
export async function teacherFingerprint(teacher: Pick<Pretrained, 'model' | 'params'>): Promise<string> {
  return (await cacheFingerprint({ teacherConfig: teacher.model.config, teacherParams: teacher.params as Record<string, Tensor>, examples: [] })).teacher;
}

/**
 * The fields `train` adds to a bridge folder so it can move: absolute paths and the teacher's fingerprint.
 * @example-skip a fragment: `fp` comes from the caller's code
 * @example `relocationFields('teacher', 'teacher', fp) // { teacher_absolute: '/…/teacher', tokenizer_absolute: '/…/teacher', teacher_fingerprint: fp }`
 */
export const relocationFields = (teacherDir: string, tokenizerDir: string, fingerprint: string) => ({ teacher_absolute: resolve(teacherDir), tokenizer_absolute: resolve(tokenizerDir), teacher_fingerprint: fingerprint });
