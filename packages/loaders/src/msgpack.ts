import { ExtensionCodec, decode, encode } from '@msgpack/msgpack';

/** A reference from the msgpack part of a checkpoint to a tensor stored in one of its safetensors files. */
export class TensorRef {
  constructor(
    readonly file: 'params' | 'optimizer',
    readonly name: string,
  ) {}
}

const TYPED = [Float32Array, Float64Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, BigInt64Array, BigUint64Array, Uint8ClampedArray] as const;
type Typed = InstanceType<(typeof TYPED)[number]>;
const text = { enc: new TextEncoder(), dec: new TextDecoder() };

const codec = new ExtensionCodec();
codec.register({
  type: 0x10,
  encode: (v) => (v instanceof TensorRef ? text.enc.encode(`${v.file}:${v.name}`) : null),
  decode: (data) => {
    const s = text.dec.decode(data);
    const i = s.indexOf(':');
    return new TensorRef(s.slice(0, i) as TensorRef['file'], s.slice(i + 1));
  },
});
// Typed arrays other than Uint8Array (which msgpack stores as bin): tag byte + little-endian bytes, bit-exact.
codec.register({
  type: 0x11,
  encode: (v) => {
    const tag = TYPED.findIndex((C) => v instanceof C);
    if (tag < 0) return null;
    const t = v as Typed;
    const out = new Uint8Array(1 + t.byteLength);
    out[0] = tag;
    out.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), 1);
    return out;
  },
  decode: (data) => {
    const C = TYPED[data[0]];
    if (!C || (data.length - 1) % C.BYTES_PER_ELEMENT !== 0) throw new Error('malformed typed array');
    const bytes = new Uint8Array(data.length - 1); // a real copy (Buffer#slice would alias the whole file)
    bytes.set(data.subarray(1));
    return new C(bytes.buffer, 0, bytes.byteLength / C.BYTES_PER_ELEMENT);
  },
});
codec.register({
  type: 0x12,
  encode: (v) => (typeof v === 'bigint' ? text.enc.encode(v.toString()) : null),
  decode: (data) => BigInt(text.dec.decode(data)),
});

/** msgpack with bit-exact typed arrays, bigints and tensor references. */
export function pack(value: unknown): Uint8Array {
  return encode(value, { extensionCodec: codec, ignoreUndefined: true });
}

export function unpack(bytes: Uint8Array): unknown {
  return decode(bytes, { extensionCodec: codec });
}
