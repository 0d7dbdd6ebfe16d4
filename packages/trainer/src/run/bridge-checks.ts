/**
 * The checks a bridge-mode run makes before any kernel runs, so a wrong teacher, student, tokenizer, data file
 * or checkpoint ends in one line naming the file and the mismatch instead of an index error deep in a kernel.
 */
import { listBridges } from '@llm-modules/bridge';
import type { Tokenizer } from '@llm-modules/loaders';
import type { Tensor } from '@llm-modules/tensor';
import { closest } from '../config/closest.js';
import { TrainConfigError, type TrainConfig } from '../config/validate.js';
import type { Example } from '../data/format.js';

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v);

/**
 * The bridge section against the registry, before anything is loaded: a known variant, known option names, and
 * each option of its default's type (a `null` default takes a number). Mistakes name the config file and suggest
 * the closest name.
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `checkBridgeSpec(cfg, 'paper.train.json') // throws: …paper.train.json: bridge.options: unknown option "hedas" (did you mean "heads"?)…`
 */
export function checkBridgeSpec(cfg: TrainConfig, file: string): void {
  const spec = cfg.bridge;
  if (!spec) return;
  const variants = listBridges();
  const def = variants.find((d) => d.name === spec.variant);
  if (!def) {
    const guess = closest(spec.variant, variants.map((d) => d.name));
    throw new TrainConfigError(file, `bridge.variant: unknown variant "${spec.variant}"${guess ? ` (did you mean "${guess}"?)` : ''}; known: ${variants.map((d) => d.name).join(', ')}`);
  }
  const defaults = def.options as Record<string, unknown>;
  for (const [key, value] of Object.entries(spec.options ?? {})) {
    if (!(key in defaults)) {
      const guess = closest(key, Object.keys(defaults));
      throw new TrainConfigError(file, `bridge.options: unknown option "${key}" for variant "${def.name}"${guess ? ` (did you mean "${guess}"?)` : ''}; known: ${Object.keys(defaults).join(', ')}`);
    }
    // a null default ("off") takes a number, or a list where the variant reads one (calm's layers, gated-tokens' teacherLayers)
    const want = defaults[key] === null ? (Array.isArray(value) ? 'list' : 'number') : kindOf(defaults[key]);
    if (value !== null && kindOf(value) !== want) {
      throw new TrainConfigError(file, `bridge.options.${key} must be a ${want}, got ${JSON.stringify(value)}`);
    }
    if (want === 'number' && typeof value === 'number' && (!Number.isFinite(value) || value < 0)) throw new TrainConfigError(file, `bridge.options.${key} must be a number ≥ 0, got ${value}`);
  }
}

/**
 * The new head's rows: `head.vocabSize` as a number, the tokenizer's size (`"tokenizer"`, as released) or the
 * teacher's `vocab_size` (`"teacher"`, the default).
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `headVocabSize(cfg, tok, 151936, 'paper.train.json') // 151646 with "tokenizer"`
 */
export function headVocabSize(cfg: TrainConfig, tok: Tokenizer, teacherVocab: number, file: string): number {
  const v = cfg.head?.vocabSize ?? 'teacher';
  const size = v === 'teacher' ? teacherVocab : v === 'tokenizer' ? tok.vocabSize : v;
  if (tok.vocabSize > size) {
    throw new TrainConfigError(file, `the tokenizer ${tok.dir} has ${tok.vocabSize} ids but the head has ${size} rows (head.vocabSize ${JSON.stringify(v)}): ids past ${size - 1} could never be predicted`);
  }
  return size;
}

/**
 * The teacher must embed every id the tokenizer makes, and the widths must be the ones `bridge.dims` names.
 * @example-skip a fragment: `cfg` comes from the caller's code
 * @example `checkModels(cfg, { teacherDir, teacherWidth: 1536, teacherVocab: 151936, studentWidth: 768 }, tok, file)`
 */
export function checkModels(cfg: TrainConfig, m: { teacherDir: string; teacherWidth: number; teacherVocab: number; student: string; studentWidth: number }, tok: Tokenizer, file: string): void {
  const dims = cfg.bridge?.dims;
  if (dims?.teacher !== undefined && dims.teacher !== m.teacherWidth) {
    throw new TrainConfigError(file, `bridge.dims.teacher is ${dims.teacher} but the teacher ${m.teacherDir} has hidden_size ${m.teacherWidth}`);
  }
  if (dims?.student !== undefined && dims.student !== m.studentWidth) {
    throw new TrainConfigError(file, `bridge.dims.student is ${dims.student} but the student (${m.student}) has hidden_size ${m.studentWidth}`);
  }
  if (tok.vocabSize > m.teacherVocab) {
    throw new TrainConfigError(file, `the tokenizer ${tok.dir} has ${tok.vocabSize} ids but the teacher ${m.teacherDir} embeds only ${m.teacherVocab} (vocab_size): is it the teacher's tokenizer?`);
  }
}

/**
 * Every token id of `examples` (in file order) must be below `limit` (rows given as `input_ids` bypass the
 * tokenizer). Rows are named 1-based, as the dataset errors name lines.
 * @example-skip a fragment: `examples` comes from the caller's code
 * @example `checkTokenIds(examples, 151646, 'data.jsonl')`
 */
export function checkTokenIds(examples: readonly Example[], limit: number, source: string): void {
  examples.forEach((ex, row) => {
    const bad = ex.inputIds.find((id) => !Number.isInteger(id) || id < 0 || id >= limit);
    if (bad !== undefined) throw new TrainConfigError(source, `row ${row + 1}: token id ${bad} is outside the vocabulary [0, ${limit}) of the teacher and head`);
  });
}

/**
 * A checkpoint to resume must hold exactly the run's trainable parameters, with the same shapes.
 * @example-skip a fragment: `state` comes from the caller's code
 * @example `checkResumeParams(state.params, model.trainableParams, 'runs/paper/checkpoint')`
 */
export function checkResumeParams(params: Record<string, Tensor>, expected: ReadonlyMap<string, readonly number[]>, dir: string): void {
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const p = params[name];
    if (!p) problems.push(`missing ${name}`);
    else if (p.shape.join(',') !== shape.join(',')) problems.push(`${name} is [${p.shape.join(', ')}], the run needs [${shape.join(', ')}]`);
  }
  for (const name of Object.keys(params)) if (!expected.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new TrainConfigError(dir, `the checkpoint does not fit this run's model: ${problems.slice(0, 3).join('; ')}${more}`);
  }
}
