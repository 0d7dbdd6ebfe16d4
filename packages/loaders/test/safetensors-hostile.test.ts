import fc from 'fast-check';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSafetensorsBuffer, readSafetensors, readSafetensorsBuffer, SafetensorsError } from '../src/node.js';
import { f32bytes, fixture, rawSafetensors, tempDir } from './helpers.js';

const w = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

/** Write `bytes` to FILE in a temp folder, read it, and return the error (which must be a SafetensorsError). */
async function errorOf(bytes: Uint8Array): Promise<{ err: SafetensorsError; file: string }> {
  const file = join(await tempDir(), 'hostile.safetensors');
  await writeFile(file, bytes);
  const err = await readSafetensors(file).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SafetensorsError);
  expect((err as Error).message.startsWith(`${file}: `)).toBe(true);
  expect((err as Error).message).not.toMatch(/\n/);
  return { err: err as SafetensorsError, file };
}

describe('safetensors: hostile input gives a one-line SafetensorsError naming the file', () => {
  it('truncated file (shorter than the length prefix, and cut inside the data)', async () => {
    expect((await errorOf(new Uint8Array([1, 2, 3]))).err.problem).toMatch(/^truncated: 3 bytes/);
    const full = await readFile(fixture('models/gptneo/model.safetensors'));
    expect((await errorOf(full.subarray(0, full.length - 100))).err.problem).toMatch(/beyond the \d+-byte data section/);
  });

  it('header length beyond the end of the file', async () => {
    const { err } = await errorOf(rawSafetensors({}, new Uint8Array(0), 1000n));
    expect(err.problem).toMatch(/header length 1000 bytes goes beyond the end of the file/);
  });

  it('header over 100 MB is rejected before it is read (sparse 100 MB+ file)', async () => {
    const file = join(await tempDir(), 'huge-header.safetensors');
    const fh = await open(file, 'w');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(100_000_001n);
    await fh.write(len, 0, 8, 0);
    await fh.truncate(8 + 100_000_001 + 8); // sparse: no disk used
    await fh.close();
    await expect(readSafetensors(file)).rejects.toThrow(new SafetensorsError(file, 'header length 100000001 bytes is over the 100 MB limit'));
  });

  it('invalid JSON, non-UTF-8 header, non-object header', async () => {
    expect((await errorOf(rawSafetensors('{"w": {"dtype": "F32",'))).err.problem).toMatch(/^header is not valid JSON/);
    expect((await errorOf(rawSafetensors(Buffer.from([0x7b, 0xff, 0x7d]).toString('latin1')))).err.problem).toMatch(/UTF-8|JSON/);
    expect((await errorOf(rawSafetensors('[1, 2]'))).err.problem).toBe('header is not a JSON object');
  });

  it('overlapping, gapped and out-of-range data_offsets', async () => {
    const data = f32bytes([1, 2, 3, 4]);
    const overlap = rawSafetensors({ a: w('F32', [2], [0, 8]), b: w('F32', [2], [4, 12]) }, data.subarray(0, 12));
    expect((await errorOf(overlap)).err.problem).toMatch(/tensor "b": data_offsets \[4, 12\] overlap the previous tensor/);
    const gap = rawSafetensors({ a: w('F32', [1], [0, 4]), b: w('F32', [2], [8, 16]) }, data);
    expect((await errorOf(gap)).err.problem).toMatch(/tensor "b": data_offsets start at 8, leaving a gap after byte 4/);
    const outside = rawSafetensors({ a: w('F32', [4], [0, 16]), b: w('F32', [1], [16, 20]) }, data);
    expect((await errorOf(outside)).err.problem).toMatch(/tensor "b": data_offsets \[16, 20\] go beyond the 16-byte data section/);
    const backwards = rawSafetensors({ a: w('F32', [0], [8, 4]) }, data);
    expect((await errorOf(backwards)).err.problem).toMatch(/end before they begin/);
    const trailing = rawSafetensors({ a: w('F32', [2], [0, 8]) }, data);
    expect((await errorOf(trailing)).err.problem).toBe('data section is 16 bytes but the tensors cover only 8');
  });

  it('shape × dtype size different from the byte length', async () => {
    const bad = rawSafetensors({ a: w('F32', [3], [0, 16]) }, f32bytes([1, 2, 3, 4]));
    expect((await errorOf(bad)).err.problem).toBe('tensor "a": shape [3] of F32 needs 12 bytes but data_offsets span 16');
    const bf = rawSafetensors({ a: w('BF16', [2, 2], [0, 16]) }, f32bytes([1, 2, 3, 4]));
    expect((await errorOf(bf)).err.problem).toMatch(/shape \[2, 2\] of BF16 needs 8 bytes/);
    const neg = rawSafetensors({ a: w('F32', [-4], [0, 16]) }, f32bytes([1, 2, 3, 4]));
    expect((await errorOf(neg)).err.problem).toMatch(/shape is not a list of non-negative integers/);
    const huge = rawSafetensors({ a: w('F32', [2 ** 40, 2 ** 40], [0, 16]) }, f32bytes([1, 2, 3, 4]));
    expect((await errorOf(huge)).err.problem).toMatch(/too many elements/);
  });

  it('unknown and unsupported dtypes', async () => {
    expect((await errorOf(rawSafetensors({ a: w('F128', [1], [0, 16]) }, f32bytes([1, 2, 3, 4])))).err.problem).toBe('tensor "a": unknown dtype "F128"');
    expect((await errorOf(rawSafetensors({ a: w('F8_E4M3', [4], [0, 4]) }, f32bytes([1])))).err.problem).toBe('tensor "a": unsupported dtype "F8_E4M3"');
  });

  it('duplicate tensor names (which JSON.parse would silently merge)', async () => {
    const text = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect((await errorOf(rawSafetensors(text, f32bytes([1, 2])))).err.problem).toBe('duplicate tensor name "a" in the header');
    // keys spelled differently but equal after unescaping are duplicates too; nested keys are not
    const escaped = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    expect((await errorOf(rawSafetensors(escaped, f32bytes([1])))).err.problem).toBe('duplicate tensor name "a" in the header');
    const nested = '{"__metadata__":{"x":"1","y":"{\\"a\\":1}"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    await expect(readSafetensorsBuffer(rawSafetensors(nested, f32bytes([1])))).resolves.toBeInstanceOf(Map);
  });

  it('malformed __metadata__ and entries', async () => {
    expect((await errorOf(rawSafetensors({ __metadata__: { n: 1 } }))).err.problem).toBe('__metadata__["n"] is not a string');
    expect((await errorOf(rawSafetensors({ a: [1] }))).err.problem).toBe('tensor "a": entry is not an object');
    expect((await errorOf(rawSafetensors({ a: w('F32', [1], [0]) }, f32bytes([1])))).err.problem).toMatch(/data_offsets is not a pair/);
  });

  it('a missing file and a folder are errors naming the path', async () => {
    const dir = await tempDir();
    await expect(readSafetensors(join(dir, 'absent.safetensors'))).rejects.toThrow(/absent\.safetensors: cannot open: no such file/);
    await expect(readSafetensors(dir)).rejects.toThrow(SafetensorsError);
  });
});

describe('safetensors: fuzzing (fast-check byte mutations of a valid file)', () => {
  const valid = rawSafetensors(
    { __metadata__: { format: 'pt' }, a: w('F32', [2, 2], [0, 16]), b: w('BF16', [3], [16, 22]), c: w('I64', [1], [22, 30]), d: w('F16', [1], [30, 32]) },
    new Uint8Array(32).map((_, i) => (i * 37) & 0xff),
  );

  /** Read everything through a byte source that records the largest read; only SafetensorsError may escape. */
  async function readOrTypedError(bytes: Uint8Array): Promise<void> {
    let out: Map<string, { data: ArrayLike<number> & { byteLength: number } }> | undefined;
    try {
      const reader = await openSafetensorsBuffer(bytes, 'fuzz.safetensors');
      out = new Map();
      for (const t of reader.header.tensors) out.set(t.name, await reader.read(t.name));
      // a reader only ever allocates what the file holds: data ≤ 4× the file (widening), header ≤ the file
      const total = [...out.values()].reduce((s, r) => s + r.data.byteLength, 0);
      expect(total).toBeLessThanOrEqual(4 * bytes.length);
    } catch (err) {
      if (!(err instanceof SafetensorsError)) throw err;
      expect(err.message.startsWith('fuzz.safetensors: ')).toBe(true);
      expect(err.message).not.toMatch(/\n/);
    }
  }

  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
    fc.record({ kind: fc.constant('length' as const), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
  );

  type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;
  function apply(bytes: Uint8Array, muts: Mutation[]): Uint8Array {
    let b = Uint8Array.from(bytes);
    for (const m of muts) {
      if (m.kind === 'set' && b.length) b[m.at % b.length] = m.value;
      else if (m.kind === 'truncate') b = b.slice(0, m.at % (b.length + 1));
      else if (m.kind === 'insert') {
        const at = m.at % (b.length + 1);
        b = Uint8Array.from([...b.subarray(0, at), ...m.bytes, ...b.subarray(at)]);
      } else if (m.kind === 'length' && b.length >= 8) new DataView(b.buffer).setBigUint64(0, m.value, true);
    }
    return b;
  }

  it('never hangs, never over-allocates, never throws anything but SafetensorsError', async () => {
    await readOrTypedError(valid); // the unmutated file reads
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (muts) => {
        await readOrTypedError(apply(valid, muts));
      }),
      { seed: 20240415, numRuns: 1500 },
    );
  });

  it('random header JSON objects (valid JSON, arbitrary field values) give only SafetensorsError', async () => {
    const value = fc.oneof(fc.string({ maxLength: 6 }), fc.integer({ min: -5, max: 40 }), fc.array(fc.integer({ min: -2, max: 40 }), { maxLength: 3 }), fc.constant(null));
    const entry = fc.record({ dtype: fc.oneof(fc.constantFrom('F32', 'BF16', 'F16', 'I64', 'U8', 'BOOL', 'X'), value), shape: value, data_offsets: value }, { requiredKeys: [] });
    const header = fc.dictionary(fc.constantFrom('a', 'b', '__metadata__', 'c'), fc.oneof(entry, value), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(header, fc.uint8Array({ maxLength: 48 }), async (h, data) => {
        await readOrTypedError(rawSafetensors(h, data));
      }),
      { seed: 7, numRuns: 1500 },
    );
  });
});
