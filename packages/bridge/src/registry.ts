/** The bridge registry: built-in variants (one line each) and variants registered at run time. */
import type { BridgeDefinition } from './types.js';
import { calm } from './variants/calm.js';
import { enhanced, paperReleased } from './variants/enhanced.js';
import { flamingo } from './variants/flamingo.js';
import { gatedTokens } from './variants/gated-tokens.js';
import { linearBridge } from './variants/linear.js';
import { plain } from './variants/plain.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyBridge = BridgeDefinition<any>;

/** The variants that ship with the package. A new built-in is one file in `variants/` plus one line here. */
export const BUILTIN_BRIDGES: readonly AnyBridge[] = [
  enhanced,
  paperReleased,
  flamingo,
  calm,
  gatedTokens,
  plain,
  linearBridge,
];

const registry = new Map<string, AnyBridge>(BUILTIN_BRIDGES.map((d) => [d.name, d]));

/**
 * Add a variant to the registry (so `composeModel({ bridge: 'name' })`, saved folders and `inspect` find it).
 * Registering another variant under a taken name throws unless `replace` is set.
 * @example-skip a fragment: needs a bridge definition (lowRank), see defineBridge
 * @example `registerBridge(lowRank)`
 */
export function registerBridge(def: AnyBridge, { replace = false } = {}): void {
  const old = registry.get(def.name);
  if (old && old !== def && !replace) throw new Error(`registerBridge: "${def.name}" is already registered (pass { replace: true } to override)`);
  registry.set(def.name, def);
}

/** Remove a run-time registration (built-ins stay). @example-skip changes the process-wide bridge registry @example `unregisterBridge('low-rank')` */
export function unregisterBridge(name: string): boolean {
  if (BUILTIN_BRIDGES.some((d) => d.name === name)) throw new Error(`unregisterBridge: "${name}" is built in`);
  return registry.delete(name);
}

/**
 * A variant by name; an unknown name throws, listing the known ones.
 * @example `getBridge('enhanced').options.heads` → 8
 */
export function getBridge(name: string): AnyBridge {
  const def = registry.get(name);
  if (!def) throw new Error(`unknown bridge variant "${name}" (known: ${[...registry.keys()].join(', ')})`);
  return def;
}

/** Every registered variant, built-ins first. @example `listBridges().map((d) => d.name)` */
export const listBridges = (): AnyBridge[] => [...registry.values()];
