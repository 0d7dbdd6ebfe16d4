/**
 * The conformance checks as plain async functions (they throw a descriptive error on failure), so they work
 * outside vitest too; `describeBridgeConformance` wraps each in a test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkGrads } from '@llm-modules/autograd/testing';
import { evaluate, prngKey, randomNormal, slice, type Tensor } from '@llm-modules/tensor';
import { resolveOptions } from '../define.js';
import { loadBridge, saveBridge } from '../folder.js';
import { generateComposed } from '../generate.js';
import { prefixed } from '../nn.js';
import { probeFutureLeak, type LeakProbeResult } from '../probe.js';
import { listBridges, registerBridge } from '../registry.js';
import type { BridgeDefinition, Params } from '../types.js';
import { B, T, VOCAB, batch, isFiniteAll, numel, perturb, snapshot, tinyTeacher, world } from './world.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Def = BridgeDefinition<any>;
type Overrides = Record<string, unknown>;

function fail(def: Def, what: string): never {
  throw new Error(`bridge "${def.name}": ${what}`);
}
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Shapes of the bridge alone, of a query window and of the composed model, for teacher `Dt` → student `Ds`. */
export async function checkShapes(def: Def, overrides: Overrides, Dt: number, Ds: number): Promise<void> {
  const options = resolveOptions(def, overrides);
  const model = world(def, overrides, Dt, Ds);
  const params = model.init(prngKey(1));
  const { ids, mask } = batch();
  const out = model.apply(params, ids, { attentionMask: mask });
  const tokenEmbedding = params[model.names.head]; // variants that keep the student's own tokens embed them with it
  const alone = def.apply(model.bridgeParams(params), out.teacherStates, { options, dims: model.dims, attentionMask: mask, inputIds: ids, tokenEmbedding });
  const windowIds = slice(ids, [0, 2], [B, 4]); // [B, 2]
  const window = def.apply(model.bridgeParams(params), out.teacherStates, { options, dims: model.dims, attentionMask: mask, queryStart: 2, queryLength: 2, inputIds: windowIds, tokenEmbedding });
  await evaluate(out.logits, out.studentInputs, alone, window);
  const want: Array<[string, Tensor, number[]]> = [
    ['student inputs', out.studentInputs, [B, T, Ds]],
    ['bridge output', alone, [B, T, Ds]],
    ['query window [2, 4)', window, [B, 2, Ds]],
    ['logits', out.logits, [B, T, VOCAB]],
  ];
  for (const [what, t, shape] of want) if (!sameShape(t.shape, shape)) fail(def, `${what} is [${t.shape.join(', ')}], expected [${shape.join(', ')}] (teacher ${Dt} → student ${Ds})`);
  if (!isFiniteAll(await out.logits.data())) fail(def, 'logits are not all finite');
  const full = await alone.data();
  const win = await window.data();
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < 2; t++) {
      for (let d = 0; d < Ds; d++) {
        const [x, y] = [win[(b * 2 + t) * Ds + d], full[(b * T + 2 + t) * Ds + d]];
        if (Math.abs(x - y) > 1e-5 * (1 + Math.abs(y))) fail(def, `the query window [2, 4) differs from the full pass at (${b}, ${2 + t}, ${d}): ${x} vs ${y}`);
      }
    }
  }
}

/** The bridge's parameter count at teacher 12 → student 8 (and that the composed model reports the same). */
export function bridgeParameterCount(def: Def, overrides: Overrides): number {
  const model = world(def, overrides);
  const count = Object.values(model.bridgeParams(model.init(prngKey(0)))).reduce((a, t) => a + numel(t.shape), 0);
  if (count !== model.parameterCounts().bridge) fail(def, `parameterCounts().bridge ${model.parameterCounts().bridge} ≠ ${count}`);
  return count;
}

/** checkGrads (float64 finite differences) of the logits w.r.t. every bridge parameter, through the student. */
export async function checkBridgeGradients(def: Def, overrides: Overrides, tol: { atol?: number; rtol?: number } = {}): Promise<void> {
  const model = world(def, overrides);
  const params = perturb(model.init(prngKey(2)));
  const { ids, mask } = batch();
  const H = model.teacherStates(ids, { attentionMask: mask }).states;
  await evaluate(H, ...Object.values(params));
  const f = (bp: Params) => model.forward({ ...params, ...prefixed(model.names.bridge, bp) }, H, { attentionMask: mask, inputIds: ids }).logits;
  await checkGrads(f, [model.bridgeParams(params)], { atol: tol.atol ?? 1e-6, rtol: tol.rtol ?? 1e-5 });
}

/** The leak probe on the bridge alone and on the composed model: teacher states after i changed at random. */
export async function probeBridgeLeak(def: Def, overrides: Overrides): Promise<{ bridge: LeakProbeResult; composed: LeakProbeResult }> {
  const options = resolveOptions(def, overrides);
  const model = world(def, overrides);
  const params = perturb(model.init(prngKey(3)));
  const { ids, mask } = batch();
  const H = model.teacherStates(ids, { attentionMask: mask }).states;
  await evaluate(H);
  const other = randomNormal(prngKey(4), H.shape); // [B, T, Dt]
  const tokens = { inputIds: ids, tokenEmbedding: params[model.names.head] }; // read only by variants that keep the student's tokens
  const bridge = await probeFutureLeak((h) => def.apply(model.bridgeParams(params), h, { options, dims: model.dims, attentionMask: mask, ...tokens }), H, other, { attentionMask: mask });
  const composed = await probeFutureLeak((h) => model.forward(params, h, { attentionMask: mask, inputIds: ids }).logits, H, other, { attentionMask: mask });
  return { bridge, composed };
}

/** A causal variant's outputs at ≤ i never move when teacher states after i change. */
export async function checkNoFutureLeak(def: Def, overrides: Overrides, tolerance = 1e-6): Promise<void> {
  const { bridge, composed } = await probeBridgeLeak(def, overrides);
  for (const [where, r] of [['bridge output', bridge], ['composed logits', composed]] as const) {
    if (r.maxChange > tolerance) {
      const at = r.perPosition.find((p) => p.maxChange > tolerance)!;
      fail(def, `future-token leak: changing teacher states after position ${at.position} moved the ${where} at ≤ ${at.position} by ${at.maxChange}`);
    }
  }
}

/** Incremental decoding (teacher KV cache, cached bridge memory, student cache) equals re-running everything. */
export async function checkIncrementalDecoding(def: Def, overrides: Overrides): Promise<void> {
  const model = world(def, overrides);
  const params = perturb(model.init(prngKey(5)));
  const prompts = [[3, 17, 8], [21, 5]];
  const gen = { maxNewTokens: 3, stopTokens: [], outputLogits: true };
  const inc = await generateComposed(model, params, prompts, gen);
  const full = await generateComposed(model, params, prompts, { ...gen, mode: 'full' });
  if (inc.teacherCalls.join() !== '3,1,1') fail(def, `the teacher ran on ${inc.teacherCalls.join(', ')} positions per call, expected 3, 1, 1`);
  let worst = 0;
  inc.logits!.forEach((l, k) => l.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - full.logits![k][i])))));
  if (worst > 1e-4) fail(def, `incremental decoding differs from the full forward by ${worst}`);
  if (JSON.stringify(inc.sequences) !== JSON.stringify(full.sequences)) fail(def, 'incremental and full decoding chose different tokens');
}

/** Same key → same parameters and outputs (eval, and training with dropout); another key → other parameters. */
export async function checkDeterminism(def: Def, overrides: Overrides): Promise<void> {
  const model = world(def, overrides);
  const [a, b, c] = [await snapshot(model.init(prngKey(9))), await snapshot(model.init(prngKey(9))), await snapshot(model.init(prngKey(10)))];
  for (const [n, v] of a) if (v.some((x, i) => x !== b.get(n)![i])) fail(def, `init with the same key gave a different "${n}"`);
  if (![...a].some(([n, v]) => v.some((x, i) => x !== c.get(n)![i]))) fail(def, 'init with another key gave the same parameters');
  const params = perturb(model.init(prngKey(9)));
  const { ids, mask } = batch();
  const outs = [false, false, true, true].map((training) => model.apply(params, ids, { attentionMask: mask, training, key: prngKey(11) }).logits);
  await evaluate(...outs);
  const data = await Promise.all(outs.map((o) => o.data()));
  for (const [i, mode] of [[1, 'eval'], [3, 'training']] as const) {
    if (data[i].some((x, k) => x !== data[i - 1][k])) fail(def, `two ${mode} runs with the same key differ`);
  }
}

/**
 * Distinct parameters of the same shape must not start equal: two random draws that are bit-identical mean one
 * key fed both (the released `torchLinear(key, …)` reused), so the two modules stay mirror images. Constant
 * inits (norm weights of 1, zero gates) are exempt: equal by design.
 * @example
 * ```ts
 * import { enhanced } from '@llm-modules/bridge';
 * import { checkDistinctInit } from '@llm-modules/bridge/testing';
 * await checkDistinctInit(enhanced, { heads: 2, adapterDim: 4 }); // resolves: every module of enhanced has its own key
 * ```
 */
export async function checkDistinctInit(def: Def, overrides: Overrides): Promise<void> {
  const model = world(def, overrides);
  const values = await snapshot(model.bridgeParams(model.init(prngKey(13))));
  const shapes = new Map([...values.keys()].map((n) => [n, model.trainableParams.get(model.names.bridge + n)!.join(',')]));
  const names = [...values.keys()].filter((n) => values.get(n)!.some((x) => x !== values.get(n)![0])); // not constant
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const [a, b] = [names[i], names[j]];
      if (shapes.get(a) !== shapes.get(b)) continue;
      const [x, y] = [values.get(a)!, values.get(b)!];
      if (x.every((v, k) => Object.is(v, y[k]))) fail(def, `"${a}" and "${b}" start bit-identical: give each its own key (e.g. subKey(key, i))`);
    }
  }
}

/** Save a bridge folder and load it back: identical parameters (bitwise) and outputs. Registers the variant if needed. */
export async function checkRoundTrip(def: Def, overrides: Overrides): Promise<void> {
  const known = listBridges().find((d) => d.name === def.name);
  if (!known) registerBridge(def);
  else if (known !== def) fail(def, 'another variant is registered under this name, so a saved folder would load that one');
  const dir = await mkdtemp(join(tmpdir(), `bridge-${def.name}-`));
  try {
    const model = world(def, overrides);
    const params = perturb(model.init(prngKey(12)));
    await saveBridge(dir, model, params);
    const loaded = await loadBridge(dir, { teacher: tinyTeacher(12) });
    if (loaded.model.bridge.name !== def.name) fail(def, `loaded variant "${loaded.model.bridge.name}"`);
    if (JSON.stringify(loaded.model.bridgeOptions) !== JSON.stringify(model.bridgeOptions)) fail(def, 'options changed through save/load');
    const [x, y] = [await snapshot(params), await snapshot(loaded.params)];
    if ([...x.keys()].sort().join() !== [...y.keys()].sort().join()) fail(def, 'parameter names changed through save/load');
    for (const [n, v] of x) if (v.some((e, i) => !Object.is(e, y.get(n)![i]))) fail(def, `"${n}" changed through save/load`);
    const { ids, mask } = batch();
    const [o1, o2] = [model.apply(params, ids, { attentionMask: mask }).logits, loaded.model.apply(loaded.params, ids, { attentionMask: mask }).logits];
    await evaluate(o1, o2);
    const [d1, d2] = [await o1.data(), await o2.data()];
    if (d1.some((v, i) => v !== d2[i])) fail(def, 'outputs changed through save/load');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
