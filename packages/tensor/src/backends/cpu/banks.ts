/**
 * Weight banks: read-only weights too large for the runtime's heap (its 512 MiB storage cap and 32 MB arrays,
 * buffers.ts) move into WebAssembly memories of their own, each with the bank module (wasm/gemv.ts) instantiated
 * over it on every thread, so that a decoding step's matrix–vector product reads them in place on the threads
 * instead of copying them into scratch every token (a 1.5B teacher's 2.9 GiB of bfloat16, a 151,646-way head's
 * 466 MB of float32). x is copied into the bank and y out of it: K + N floats a product.
 *
 * A storage moves once, the first time such a product reads it: its `bf16` (or `data`) is replaced by an equal
 * array over the bank's memory, so every other reader (gather, the GEMM paths, `data()`) reads it as before. Its
 * block is freed with the storage; a bank left empty is dropped (its memory is then collected). Banks hold up to
 * 2 GiB each (a memory can not shrink: freed blocks are reused by the next weights).
 */
import type { Storage, View } from '../../backend.js';
import { registerReleaseHook } from '../../memory.js';
import { Heap } from './heap.js';
import { adoptIntoWasm, finishOutput, kernelOutput, recycle, wasmAddress } from './buffers.js';
import { JobList, runExtra, splitRanges, type Runtime } from './runtime.js';
import type { FastContext } from './context.js';
import { BANK_PAGES, bankModuleBytes } from './wasm/gemv.js';

const PAGE = 65536;
/** Bytes at the start of a bank for x and y of the product being run (grown by moving past the first block when needed). */
const IO_BYTES = 1 << 20;
/** Rows of a job at least (bytes of weight): fewer, larger jobs cost less to claim. */
const MIN_JOB_BYTES = 1 << 16;

/** float32 arrays below this many values are not moved into a bank (an activation, not a weight, more likely). */
const MIN_F32_WEIGHT = 1 << 18;

let bankModule: WebAssembly.Module | undefined;

class Bank {
  readonly memory: WebAssembly.Memory;
  readonly heap: Heap;
  /** the runtime whose threads run this bank's kernels, and the extra-module ids of gemv_bf16 and gemv_f32 there */
  private registered: { rt: Runtime; bf16: number; f32: number } | undefined;
  private ioAt = 0;
  private ioBytes = IO_BYTES;

  constructor(bytes: number) {
    this.memory = new WebAssembly.Memory({ initial: Math.min(BANK_PAGES, Math.ceil((IO_BYTES + bytes) / PAGE) + 1), maximum: BANK_PAGES, shared: true });
    this.heap = new Heap(IO_BYTES, (end) => this.ensure(end));
  }

  /** The bank's kernels as functions of `rt`'s job lists (instantiated on its threads at first use). */
  fnIds(rt: Runtime): { bf16: number; f32: number } {
    if (this.registered?.rt !== rt) {
      bankModule ??= new WebAssembly.Module(bankModuleBytes());
      this.registered = { rt, bf16: rt.extra.add(bankModule, 'gemv_bf16', this.memory).id, f32: rt.extra.add(bankModule, 'gemv_f32', this.memory).id };
    }
    return this.registered;
  }

  get buffer(): SharedArrayBuffer {
    return this.memory.buffer as unknown as SharedArrayBuffer;
  }

  /** Byte address of `bytes` of scratch for x and y (one product at a time), or -1. */
  io(bytes: number): number {
    if (bytes <= this.ioBytes) return this.ioAt;
    const at = this.heap.alloc(bytes);
    if (at < 0) return -1;
    if (this.ioAt > 0) this.heap.free(this.ioAt);
    [this.ioAt, this.ioBytes] = [at, bytes];
    return at;
  }

  private ensure(end: number): boolean {
    if (end > BANK_PAGES * PAGE) return false;
    const have = this.memory.buffer.byteLength;
    if (end <= have) return true;
    try {
      this.memory.grow(Math.min(Math.ceil((end - have) / PAGE), BANK_PAGES - have / PAGE));
    } catch {
      return false;
    }
    return true;
  }

  /** Drop this bank's kernels (once empty): nothing then holds its memory. */
  retire(): void {
    if (!this.registered) return;
    this.registered.rt.extra.remove(this.registered.bf16);
    this.registered.rt.extra.remove(this.registered.f32);
  }

  /** Weight blocks live (the x/y block aside). */
  get weightBytes(): number {
    return this.heap.liveBytes - (this.ioAt > 0 ? this.heap.sizeOf(this.ioAt) ?? 0 : 0);
  }
}

/**
 * `on`: whether products may move weights into banks (tests turn it off to cover the copying paths;
 * `LLM_MODULES_BANKS=0` starts with it off, for benchmarks of the path without banks).
 */
export const bankTuning = { on: (typeof process !== 'undefined' ? process.env?.LLM_MODULES_BANKS : undefined) !== '0' };

const banks: Bank[] = [];
/** arrays over a bank's memory → where */
const placed = new WeakMap<ArrayBufferView, { bank: Bank; at: number }>();
const finalizer = new FinalizationRegistry<{ bank: Bank; at: number }>((p) => freeBlock(p));

function freeBlock(p: { bank: Bank; at: number }): void {
  p.bank.heap.free(p.at);
  if (p.bank.weightBytes === 0) {
    p.bank.retire();
    banks.splice(banks.indexOf(p.bank), 1);
  }
}

registerReleaseHook((s) => {
  const a = s.bf16 ?? s.data;
  const p = a && placed.get(a);
  if (!p) return;
  placed.delete(a);
  finalizer.unregister(a);
  freeBlock(p);
});

/** A new array of `n` elements in a bank (block, typed array), or undefined where no bank can hold it. */
function bankArray<A extends Uint16Array | Float32Array>(make: (buffer: SharedArrayBuffer, at: number, n: number) => A, n: number, bytes: number): { p: { bank: Bank; at: number }; a: A } | undefined {
  let bank: Bank | undefined;
  let at = -1;
  for (const b of banks) if ((at = b.heap.alloc(bytes)) >= 0 && (bank = b)) break;
  if (!bank) {
    try {
      bank = new Bank(bytes);
    } catch {
      return undefined; // the engine refused the memory
    }
    at = bank.heap.alloc(bytes);
    if (at < 0) return undefined; // over 2 GiB
    banks.push(bank);
  }
  const p = { bank, at };
  const a = make(bank.buffer, at, n);
  placed.set(a, p);
  finalizer.register(a, p, a);
  return { p, a };
}

const u16 = (b: SharedArrayBuffer, at: number, n: number): Uint16Array => new Uint16Array(b, at, n);
const f32 = (b: SharedArrayBuffer, at: number, n: number): Float32Array => new Float32Array(b, at, n);

/**
 * An array for `n` bfloat16 bit patterns in a weight bank (to fill, then hand to `bfloat16Tensor`: a loader reads
 * a weight straight into it, so it never has to move), or undefined where banks are off or unavailable.
 */
export function bankBFloat16Array(n: number): Uint16Array | undefined {
  if (!bankTuning.on || typeof SharedArrayBuffer === 'undefined' || n === 0) return undefined;
  return bankArray(u16, n, 2 * n)?.a;
}

/** A storage in a bank: the bank and the byte address of its element 0. Moves it there on first use; undefined where no bank can hold it. */
export function inBank(storage: Storage): { bank: Bank; at: number } | undefined {
  const src = storage.bf16 ?? storage.data;
  if (!(src instanceof Uint16Array || src instanceof Float32Array)) return undefined;
  const known = placed.get(src);
  if (known) return known;
  const m = src instanceof Uint16Array ? bankArray(u16, src.length, src.byteLength) : bankArray(f32, src.length, src.byteLength);
  if (!m) return undefined;
  if (m.a instanceof Uint16Array) (storage as { bf16?: Uint16Array }).bf16 = m.a;
  else (storage as { data?: Float32Array }).data = m.a;
  m.a.set(src);
  return m.p;
}

/** Is the storage's array in a bank already? */
export const isInBank = (storage: Storage): boolean => {
  const a = storage.bf16 ?? storage.data;
  return !!a && placed.has(a);
};

/**
 * y = x · Wᵀ for one row x (K floats at byte address `x` of the runtime's memory; y: N floats at `y`), W the
 * view `w` of [K, N] over rows of a storage (`w(k, n)` at offset + n·ldw + k: brs 1, bcs ldw), bfloat16 or float32,
 * read in place from its bank on the context's threads. False (nothing done) where no bank can hold it.
 */
export function bankGemv(ctx: FastContext, rt: Runtime, w: View, ldw: number, x: number, y: number, N: number, K: number): boolean {
  const p = bankTuning.on ? inBank(w.storage) : undefined;
  if (!p) return false;
  const { bank, at } = p;
  const io = bank.io(4 * (K + N) + 64);
  if (io < 0) return false;
  const bf16 = w.storage.bf16 !== undefined;
  const eb = bf16 ? 2 : 4;
  const f = new Float32Array(bank.buffer);
  f.set(rt.f32.subarray(x >> 2, (x >> 2) + K), io >> 2);
  const yAt = io + 4 * K;
  const minRows = Math.max(1, Math.ceil(MIN_JOB_BYTES / (eb * K)));
  const parts = ctx.pool && ctx.threads > 1 ? Math.max(1, Math.min(ctx.threads * 4, Math.floor(N / minRows))) : 1;
  const list = new JobList();
  const ids = bank.fnIds(rt);
  const fn = bf16 ? ids.bf16 : ids.f32;
  for (const [i0, i1] of splitRanges(N, parts)) if (i1 > i0) list.addExtra(rt, fn, [io, at + eb * (w.offset + i0 * ldw), yAt + 4 * i0, K, 0, i1 - i0, ldw]);
  if (ctx.pool && ctx.threads > 1 && list.jobs.length > 1) ctx.pool.run(list);
  else for (const [, id, args] of list.jobs) runExtra(rt, id, args);
  rt.f32.set(new Float32Array(bank.buffer, yAt, N), y >> 2);
  return true;
}

/**
 * The float32 matmul of one row by a weight's rows (`matmulFast`: M = 1, x · Wᵀ with W [N, K] row-major) when W
 * lives in a bank or neither lives in nor fits the runtime's heap: `bankGemv` into a new output. Undefined declines.
 */
export function bankMatvec(ctx: FastContext, rt: Runtime, w: View, ldw: number, x: number, N: number, K: number): Float32Array | undefined {
  const data = w.storage.data;
  if (!bankTuning.on || !data || w.storage.bf16 || data.length < MIN_F32_WEIGHT) return undefined;
  if (!isInBank(w.storage) && (wasmAddress(data) !== undefined || adoptIntoWasm(w.storage) !== undefined)) return undefined;
  const o = kernelOutput(rt, N);
  if (!o) return undefined;
  if (!bankGemv(ctx, rt, w, ldw, x, o.at, N, K)) {
    recycle(o.out);
    return undefined;
  }
  return finishOutput(rt, o);
}

/** Bytes of weights held in banks, and the banks' memory (for tests and benchmarks). */
export function bankStats(): { banks: number; weightBytes: number; memoryBytes: number } {
  return { banks: banks.length, weightBytes: banks.reduce((n, b) => n + b.weightBytes, 0), memoryBytes: banks.reduce((n, b) => n + b.memory.buffer.byteLength, 0) };
}
