/** `llm-modules inspect DIR` on a bridge folder (`bridge_config.json` + `bridge.safetensors`): variant, options, parameter counts. */
import { describeBridgeFolder, isBridgeFolder, readBridgeConfig } from '@llm-modules/bridge';
import { findTeacher } from './bridge-model.js';
import { humanBytes, humanCount, thousands, type CliIO } from '../io.js';

export { isBridgeFolder };

const fmt = (v: unknown) => (Array.isArray(v) ? `[${v.join(',')}]` : String(v));

/**
 * Print a bridge folder's summary: the variant and its description, whether it is causal, its options, the
 * teacher → student → head sizes, and parameter counts per part (from the safetensors header; no data is read).
 *
 * @example
 * ```ts
 * await inspectBridge('runs/bridge-01', { json: true }, processIO);
 * ```
 */
export async function inspectBridge(dir: string, opts: { json?: boolean; teacher?: string }, io: CliIO): Promise<void> {
  const s = await describeBridgeFolder(dir);
  const folderConfig = await readBridgeConfig(dir);
  // where its teacher is now (--teacher, the recorded relative path, or the absolute one), or why it is not found
  const found = await findTeacher(dir, folderConfig, opts.teacher).then((path) => ({ path, problem: null }), (err: Error) => ({ path: null, problem: err.message }));
  const teacherStatus = { teacher_folder: found.path, teacher_problem: found.problem, teacher_fingerprint: typeof folderConfig.extra.teacher_fingerprint === 'string' ? folderConfig.extra.teacher_fingerprint : null };
  if (opts.json) {
    io.stdout(`${JSON.stringify({ kind: 'bridge', ...s, ...teacherStatus })}\n`);
    return;
  }
  const p = s.parameters;
  const count = (n: number) => `${thousands(n)} (${humanCount(n)})`;
  const lines = [
    `path         ${dir}`,
    `bridge       ${s.variant} (${s.layout === 'released' ? 'released LLM-Modules layout' : 'llm-modules layout'})${s.description ? ` — ${s.description}` : ''}`,
    `causal       ${s.causal ? 'yes (no future-token leak)' : 'no (padding-only mask: reads future teacher states)'}`,
    `options      ${Object.entries(s.options).map(([k, v]) => `${k}=${fmt(v)}`).join(' ') || '(none)'}`,
    `sizes        teacher ${s.teacher.model_type ?? '?'} ${s.dims.teacher}${s.teacher.path ? ` (${s.teacher.path})` : ''} → student ${s.student.model_type} ${s.dims.student} × ${s.student.layers} blocks → head ${s.head.vocab_size}`,
    `teacher      ${found.path ?? `missing: ${found.problem}`}${teacherStatus.teacher_fingerprint ? ` (fingerprint ${teacherStatus.teacher_fingerprint.slice(0, 12)}…)` : ''}`,
    `parameters   bridge ${count(p.bridge)}; student ${count(p.student)}; head ${count(p.head)}${p.other ? `; other ${count(p.other)}` : ''}; total ${count(p.total)}`,
    `tensors      ${s.tensors.total} (bridge ${s.tensors.bridge}, student ${s.tensors.student}, head ${s.tensors.head}${s.tensors.other ? `, other ${s.tensors.other}` : ''})`,
    `dtypes       ${Object.entries(s.dtypes).map(([d, n]) => `${d} ${n}`).join('; ')}`,
    `total bytes  ${thousands(s.total_bytes)} (${humanBytes(s.total_bytes)})`,
  ];
  io.stdout(`${lines.join('\n')}\n`);
}
