import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { decodeBFloat16, decodeFloat16, encodeBFloat16, encodeFloat16, tensor } from '@llm-modules/tensor';

const bitsOf = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];

describe('float16', () => {
  // Expected values from the IEEE 754 binary16 definition: value = (-1)^s * 2^(e-15) * (1 + m/1024), subnormal 2^-14 * m/1024.
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, (1023 / 1024) * 2 ** -14],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  test.each(cases)('decode 0x%s', (bits, value) => {
    expect(decodeFloat16(new Uint16Array([bits]))[0]).toBe(value);
  });
  test('negative zero and NaN', () => {
    const [nz, nan] = decodeFloat16(new Uint16Array([0x8000, 0x7e00]));
    expect(Object.is(nz, -0)).toBe(true);
    expect(Number.isNaN(nan)).toBe(true);
    expect(Number.isNaN(decodeFloat16(encodeFloat16([NaN]))[0])).toBe(true);
  });
  test('encode rounds to nearest even, overflows to Inf, underflows gradually', () => {
    expect(encodeFloat16([1 + 2 ** -11])[0]).toBe(0x3c00); // halfway: ties to even (down)
    expect(encodeFloat16([1 + 3 * 2 ** -11])[0]).toBe(0x3c02); // halfway: ties to even (up)
    expect(encodeFloat16([65520])[0]).toBe(0x7c00); // rounds past max → Inf
    expect(encodeFloat16([2 ** -25])[0]).toBe(0x0000); // half the smallest subnormal: ties to even zero
    expect(encodeFloat16([3 * 2 ** -25])[0]).toBe(0x0002);
    expect(encodeFloat16([-0])[0]).toBe(0x8000);
  });
  test('every finite half round-trips exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = encodeFloat16(decodeFloat16(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (!isNaN) expect(back[i]).toBe(i);
    }
  });
});

describe('bfloat16', () => {
  test('decode is the top half of a float32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (bits) => {
        const v = decodeBFloat16(new Uint16Array([bits]))[0];
        const isNaN = (bits & 0x7f80) === 0x7f80 && (bits & 0x7f) !== 0;
        return isNaN ? Number.isNaN(v) : bitsOf(v) === (bits << 16) >>> 0;
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
  test('special values', () => {
    const v = decodeBFloat16(new Uint16Array([0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x3f80]));
    expect(Object.is(v[0], 0)).toBe(true);
    expect(Object.is(v[1], -0)).toBe(true);
    expect(v[2]).toBe(Infinity);
    expect(v[3]).toBe(-Infinity);
    expect(Number.isNaN(v[4])).toBe(true);
    expect(v[5]).toBe(2 ** -133); // smallest bf16 subnormal = 2^-126 * 2^-7
    expect(v[6]).toBe(1);
  });
  test('encode rounds to nearest even and keeps NaN a NaN', () => {
    expect(encodeBFloat16([1 + 2 ** -8])[0]).toBe(0x3f80); // tie → even
    expect(encodeBFloat16([1 + 3 * 2 ** -8])[0]).toBe(0x3f82);
    expect(encodeBFloat16([Infinity, -Infinity])).toEqual(new Uint16Array([0x7f80, 0xff80]));
    expect(Number.isNaN(decodeBFloat16(encodeBFloat16([NaN]))[0])).toBe(true);
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = encodeBFloat16(decodeBFloat16(all));
    for (let i = 0; i < 65536; i++) if (!((i & 0x7f80) === 0x7f80 && (i & 0x7f))) expect(back[i]).toBe(i);
  });
  test('tensor() widens bf16 and f16 storage exactly', async () => {
    const t = tensor(new Uint16Array([0x3f80, 0xc000, 0x0001]), [3], 'bfloat16');
    expect(t.dtype).toBe('float32');
    expect(Array.from(await t.data())).toEqual([1, -2, 2 ** -133]);
    const h = tensor(new Uint16Array([0x3c00, 0x0001]), [2], 'float16');
    expect(Array.from(await h.data())).toEqual([1, 2 ** -24]);
  });
});
