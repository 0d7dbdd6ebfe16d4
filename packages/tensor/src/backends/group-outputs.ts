/** Groups with extra outputs (fusion/program.ts `Group.extra`) on a backend that runs them one output at a time. */
import type { Backend, Storage, View } from '../backend.js';
import { newStorage } from '../backend.js';
import { groupOutputs, groupRoot, membersFor, type Group } from '../fusion/program.js';
import { release, retain } from '../memory.js';

/**
 * Each output of `group` as the group of the members it needs, run by `backend.executeGroup` and joined
 * into one host array, root first (as the evaluator reads them).
 */
export async function executeEachOutput(backend: Required<Pick<Backend, 'executeGroup' | 'read' | 'name'>>, group: Group, inputs: readonly View[]): Promise<Storage> {
  const outputs = groupOutputs(group);
  const n = groupRoot(group).size;
  const joined = new Float32Array(n * outputs.length);
  for (const [k, o] of outputs.entries()) {
    const sub = membersFor(group, o);
    const s = await backend.executeGroup(sub, sub.externals.map((e) => inputs[group.externals.indexOf(e)]));
    retain(s);
    joined.set((s.data ?? (await backend.read(s))).subarray(0, n), k * n);
    release(s);
  }
  return newStorage(backend.name, n * outputs.length, joined);
}
