/** `defineBridge`: check and freeze a variant; presets; option resolution. */
import type { BridgeDefinition } from './types.js';

const NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Define a bridge variant (checked and frozen). A variant is a value: name, default options, `init`, `apply`,
 * and optionally `memory` (cacheable position-wise precomputation), `student` (a hook inside the student) and
 * `causal(options)`.
 *
 * @example
 * ```ts
 * import { defineBridge, registerBridge } from '@llm-modules/bridge';
 * import { linear } from '@llm-modules/transformer';
 * import { randomNormal, zeros } from '@llm-modules/tensor';
 * const scaled = defineBridge({
 *   name: 'scaled-linear',
 *   options: { scale: 1 },
 *   init: (dims, _o, key) => ({ 'w.weight': randomNormal(key, [dims.student, dims.teacher], { std: 0.02 }), 'w.bias': zeros([dims.student]) }),
 *   apply: (p, h, { options }) => linear(h, p['w.weight'], p['w.bias']), // [B, T, Ds]
 * });
 * registerBridge(scaled);
 * ```
 */
export function defineBridge<O extends object>(def: BridgeDefinition<O>): BridgeDefinition<O> {
  if (typeof def !== 'object' || def === null) throw new TypeError('defineBridge: expected an object');
  if (typeof def.name !== 'string' || !NAME.test(def.name)) throw new TypeError(`defineBridge: name must match ${NAME} (lowercase, digits, dashes), got ${JSON.stringify(def.name)}`);
  if (typeof def.options !== 'object' || def.options === null || Array.isArray(def.options)) throw new TypeError(`defineBridge(${def.name}): options must be an object of defaults`);
  for (const fn of ['init', 'apply'] as const) if (typeof def[fn] !== 'function') throw new TypeError(`defineBridge(${def.name}): ${fn} must be a function`);
  for (const fn of ['memory', 'causal', 'teacherLayers'] as const) if (def[fn] !== undefined && typeof def[fn] !== 'function') throw new TypeError(`defineBridge(${def.name}): ${fn} must be a function when given`);
  if (def.student && (typeof def.student.layers !== 'function' || typeof def.student.apply !== 'function')) {
    throw new TypeError(`defineBridge(${def.name}): student must have layers() and apply()`);
  }
  return Object.freeze({ ...def, options: Object.freeze({ ...def.options }) });
}

/**
 * A preset: the same mechanism under another name with other default options.
 * @example `const paperReleased = presetBridge(enhanced, 'paper-released', { causal: false, heads: 8 })`
 */
export function presetBridge<O extends object>(base: BridgeDefinition<O>, name: string, options: Partial<O>, description?: string): BridgeDefinition<O> {
  return defineBridge({ ...base, name, description: description ?? base.description, options: { ...base.options, ...options } });
}

/**
 * Defaults merged with `overrides`; unknown option names are an error (a typo should not pass silently).
 * @example `resolveOptions(enhanced, { heads: 4 })` → `{ layers: 2, heads: 4, … }`
 */
export function resolveOptions<O extends object>(def: BridgeDefinition<O>, overrides: Partial<O> = {}): O {
  const known = Object.keys(def.options);
  const unknown = Object.keys(overrides).filter((k) => !known.includes(k));
  if (unknown.length) throw new TypeError(`bridge "${def.name}": unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const merged = { ...def.options };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  return merged;
}

/**
 * Whether the variant hides future teacher positions under `options` (`def.causal`, else `options.causal`, else true).
 * @example `isCausal(paperReleased, paperReleased.options)` → false
 */
export function isCausal<O extends object>(def: BridgeDefinition<O>, options: O): boolean {
  if (def.causal) return def.causal(options);
  const c = (options as { causal?: unknown }).causal;
  return c === undefined ? true : Boolean(c);
}
