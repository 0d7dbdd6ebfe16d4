/**
 * An opt-in profile of evaluation: wall time, calls and elements per primitive (fused groups under
 * `fused:<ops>`). Turn it on with `LLM_MODULES_PROFILE=1` (a table on stderr when the process exits; `=shapes`
 * splits rows by input shapes and strides) or
 * `setProfiling(true)`, and read it with `profileReport()`. Off, it costs one boolean test per node.
 */
interface Entry {
  calls: number;
  ms: number;
  elements: number;
  /** the first call's ms: it can carry one-time costs (module compile, worker start, JIT) */
  first: number;
}

const table = new Map<string, Entry>();
const env = typeof process !== 'undefined' ? process.env?.LLM_MODULES_PROFILE : undefined;
let enabled = env !== undefined && env !== '' && env !== '0';

/** `LLM_MODULES_PROFILE=shapes`: rows keyed by primitive and input layouts (shape and strides). */
const byShape = env === 'shapes';

/** Whether evaluation is being profiled. */
export const profiling = (): boolean => enabled;

/** The profile key of a kernel run: the op, plus its input layouts under `LLM_MODULES_PROFILE=shapes`. */
export function profileKey(op: string, inputs: readonly { shape: readonly number[]; strides: readonly number[] }[]): string {
  return byShape ? `${op} ${inputs.map((v) => `${v.shape.join('x')}/${v.strides.join('.')}`).join(' ')}` : op;
}

/**
 * Start or stop profiling (the table is kept; `resetProfile()` clears it).
 * @example-skip turns profiling on for the whole process
 * @example `setProfiling(true); await loss.data(); console.log(profileReport());`
 */
export function setProfiling(on: boolean): void {
  enabled = on;
}

export function resetProfile(): void {
  table.clear();
}

/** Add one kernel run to the profile. */
export function record(key: string, ms: number, elements: number): void {
  const e = table.get(key) ?? { calls: 0, ms: 0, elements: 0, first: ms };
  e.calls++;
  e.ms += ms;
  e.elements += elements;
  table.set(key, e);
}

/**
 * The profile as a text table, slowest first (`top` rows): total ms, share, calls, elements, the first
 * call's ms and the mean of the later calls in µs (the first call of a process also pays for compiling
 * the kernels and starting the worker threads: tens of ms).
 * @example `console.log(profileReport(10))`
 */
export function profileReport(top = 25): string {
  const rows = [...table.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, e]) => s + e.ms, 0);
  const lines = [`${'op'.padEnd(40)} ${'ms'.padStart(10)} ${'%'.padStart(6)} ${'calls'.padStart(7)} ${'Melem'.padStart(9)} ${'first ms'.padStart(9)} ${'later µs'.padStart(9)}`];
  for (const [k, e] of rows.slice(0, top)) {
    const later = e.calls > 1 ? ((1000 * (e.ms - e.first)) / (e.calls - 1)).toFixed(1) : '-';
    lines.push(`${(byShape ? k : k.slice(0, 40)).padEnd(40)} ${e.ms.toFixed(1).padStart(10)} ${((100 * e.ms) / (total || 1)).toFixed(1).padStart(6)} ${String(e.calls).padStart(7)} ${(e.elements / 1e6).toFixed(1).padStart(9)} ${e.first.toFixed(2).padStart(9)} ${later.padStart(9)}`);
  }
  lines.push(`${'total'.padEnd(40)} ${total.toFixed(1).padStart(10)}`);
  return lines.join('\n');
}

if (enabled && typeof process !== 'undefined' && typeof process.on === 'function') {
  process.on('exit', () => process.stderr.write(`\nllm-modules profile (LLM_MODULES_PROFILE):\n${profileReport()}\n`));
}
