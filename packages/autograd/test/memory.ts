/**
 * Peak memory of an evaluation, measured from outside the tensor package: every storage a kernel
 * returns is recorded with its size, and dropped when its reference count reaches zero (the
 * `liveStorages` counter of `memoryStats` is watched to notice releases). Counts kernel outputs only:
 * host data (parameters, inputs) is the same with and without checkpointing.
 */
import * as T from '@llm-modules/tensor';
import type { Storage } from '@llm-modules/tensor';

export interface MemoryProbe {
  /** Start a new measurement; returns the bytes currently held by kernel outputs. */
  reset(): number;
  /** Peak bytes held by kernel outputs since the last reset, and the peak number of live storages. */
  peak(): { bytes: number; storages: number };
  /** Undo the instrumentation. */
  restore(): void;
}

export function probeMemory(bytesPerValue = 4): MemoryProbe {
  const backend = T.getBackend();
  const execute = backend.execute;
  const held = new Map<Storage, number>();
  let bytes = 0;
  let peakBytes = 0;
  const record = (s: Storage): Storage => {
    if (held.has(s)) return s; // a single-node group runs through execute: already counted
    held.set(s, s.size * bytesPerValue);
    bytes += s.size * bytesPerValue;
    peakBytes = Math.max(peakBytes, bytes);
    return s;
  };
  (backend as { execute: typeof execute }).execute = (node, inputs) => {
    const out = execute.call(backend, node, inputs);
    return out instanceof Promise ? out.then(record) : record(out);
  };
  // fused elementwise groups return their storage through executeGroup
  const executeGroup = backend.executeGroup;
  if (executeGroup) {
    (backend as { executeGroup: typeof executeGroup }).executeGroup = (group, inputs) => executeGroup.call(backend, group, inputs).then(record);
  }
  const stats = T.memoryStats as { liveStorages: number };
  let live = stats.liveStorages;
  let peakLive = live;
  Object.defineProperty(stats, 'liveStorages', {
    configurable: true,
    enumerable: true,
    get: () => live,
    set: (v: number) => {
      if (v < live) {
        for (const [s, b] of held) {
          if (s.refs === 0) {
            held.delete(s);
            bytes -= b;
          }
        }
      }
      live = v;
      peakLive = Math.max(peakLive, v);
    },
  });
  return {
    reset: () => {
      peakBytes = bytes;
      peakLive = live;
      return bytes;
    },
    peak: () => ({ bytes: peakBytes, storages: peakLive }),
    restore: () => {
      delete (backend as { execute?: typeof execute }).execute;
      delete (backend as { executeGroup?: typeof executeGroup }).executeGroup;
      Object.defineProperty(stats, 'liveStorages', { configurable: true, enumerable: true, writable: true, value: live });
    },
  };
}
