/**
 * A tiny WebAssembly binary emitter: just enough of the format (types, one imported memory, functions,
 * exports, SIMD opcodes) to write the hand-tuned CPU kernels in TypeScript. The kernels are generated
 * at first use, so the package ships no binary and needs no build tool.
 */

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b };

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

const f32Bytes = (v: number): number[] => Array.from(new Uint8Array(new Float32Array([v]).buffer));

/** A local variable (index) of a function being written. */
export type Local = number & { readonly __local?: true };

/** Writes one function body. Methods push instructions in stack-machine order and return `this`. */
const unresolved = (f: Fn): number => {
  throw new Error(`wasm: call to ${f.name} by handle outside a module`);
};

export class Fn {
  readonly bytes: number[] = [];
  private readonly localTypes: ValType[] = [];
  /** calls by handle: the position in `bytes` where the callee's index goes, resolved by encodeModule */
  private readonly calls: { at: number; callee: Fn }[] = [];
  readonly params: Local[];

  constructor(
    readonly name: string,
    readonly paramTypes: readonly ValType[],
    readonly results: readonly ValType[] = [],
  ) {
    this.params = paramTypes.map((_, k) => k as Local);
  }

  local(type: ValType): Local {
    this.localTypes.push(type);
    return (this.paramTypes.length + this.localTypes.length - 1) as Local;
  }

  /** Encoded body (locals + code + end); `indexOf` gives the module index of each function called by handle. */
  body(indexOf: (fn: Fn) => number = unresolved): number[] {
    const out: number[] = [];
    const groups: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(groups.length, out);
    for (const [n, t] of groups) {
      uleb(n, out);
      out.push(VALTYPE[t]);
    }
    let from = 0;
    for (const { at, callee } of this.calls) {
      out.push(...this.bytes.slice(from, at));
      uleb(indexOf(callee), out);
      from = at;
    }
    out.push(...this.bytes.slice(from), 0x0b);
    return out;
  }

  private op(...b: number[]): this {
    for (const x of b) this.bytes.push(x);
    return this;
  }
  private simd(code: number, ...rest: number[]): this {
    this.bytes.push(0xfd);
    uleb(code, this.bytes);
    for (const x of rest) this.bytes.push(x);
    return this;
  }
  private memarg(align: number, offset: number): void {
    uleb(align, this.bytes);
    uleb(offset, this.bytes);
  }

  // --- control
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  /** `if` whose branches each leave one value of `type`. */
  ifResult(type: ValType): this {
    return this.op(0x04, VALTYPE[type]);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    this.op(0x0c);
    uleb(depth, this.bytes);
    return this;
  }
  brIf(depth: number): this {
    this.op(0x0d);
    uleb(depth, this.bytes);
    return this;
  }
  return(): this {
    return this.op(0x0f);
  }
  /**
   * Call a function of the module: by handle (its `Fn`, resolved to its index when the module is
   * encoded, so that inserting a function shifts nothing) or by a known index.
   */
  call(callee: number | Fn): this {
    this.op(0x10);
    if (typeof callee === 'number') uleb(callee, this.bytes);
    else this.calls.push({ at: this.bytes.length, callee });
    return this;
  }
  drop(): this {
    return this.op(0x1a);
  }
  select(): this {
    return this.op(0x1b);
  }

  // --- locals and constants
  get(l: Local): this {
    this.op(0x20);
    uleb(l, this.bytes);
    return this;
  }
  set(l: Local): this {
    this.op(0x21);
    uleb(l, this.bytes);
    return this;
  }
  tee(l: Local): this {
    this.op(0x22);
    uleb(l, this.bytes);
    return this;
  }
  i32(v: number): this {
    this.op(0x41);
    sleb(v | 0, this.bytes);
    return this;
  }
  f32(v: number): this {
    return this.op(0x43, ...f32Bytes(v));
  }

  // --- memory (offsets are byte immediates)
  i32Load(offset = 0): this {
    this.op(0x28);
    this.memarg(2, offset);
    return this;
  }
  f32Load(offset = 0): this {
    this.op(0x2a);
    this.memarg(2, offset);
    return this;
  }
  i32Store(offset = 0): this {
    this.op(0x36);
    this.memarg(2, offset);
    return this;
  }
  f32Store(offset = 0): this {
    this.op(0x38);
    this.memarg(2, offset);
    return this;
  }
  v128Load(offset = 0): this {
    this.simd(0x00);
    this.memarg(2, offset); // align hint 4 bytes: the data is float-aligned, not always 16
    return this;
  }
  v128Store(offset = 0): this {
    this.simd(0x0b);
    this.memarg(2, offset);
    return this;
  }
  /** two floats into the low 64 bits (the rest zero): `f64x2PromoteLowF32x4` of it is one cvtps2pd */
  v128Load64Zero(offset = 0): this {
    this.simd(0x5d);
    this.memarg(2, offset);
    return this;
  }
  /** one uint16 (a bfloat16's bits), zero-extended to i32 */
  i32Load16U(offset = 0): this {
    this.op(0x2f);
    this.memarg(1, offset);
    return this;
  }
  load32Splat(offset = 0): this {
    this.simd(0x09);
    this.memarg(2, offset);
    return this;
  }

  // --- i32
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32GtS(): this {
    return this.op(0x4a);
  }
  i32LeS(): this {
    return this.op(0x4c);
  }
  i32GeS(): this {
    return this.op(0x4e);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32DivS(): this {
    return this.op(0x6d);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  i32ShrS(): this {
    return this.op(0x75);
  }

  // --- f32 scalar
  f32Add(): this {
    return this.op(0x92);
  }
  f32Sub(): this {
    return this.op(0x93);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  f32Div(): this {
    return this.op(0x95);
  }
  f32Max(): this {
    return this.op(0x97);
  }
  f32Gt(): this {
    return this.op(0x5e);
  }
  f32DemoteF64(): this {
    return this.op(0xb6);
  }
  f32ConvertI32S(): this {
    return this.op(0xb2);
  }
  f32ReinterpretI32(): this {
    return this.op(0xbe);
  }
  i32ReinterpretF32(): this {
    return this.op(0xbc);
  }

  // --- f64 scalar (float64 accumulation, rounded once, like the JavaScript paths)
  f64Add(): this {
    return this.op(0xa0);
  }
  f64PromoteF32(): this {
    return this.op(0xbb);
  }
  f64Sub(): this {
    return this.op(0xa1);
  }
  f64Mul(): this {
    return this.op(0xa2);
  }
  f64Div(): this {
    return this.op(0xa3);
  }
  f64Sqrt(): this {
    return this.op(0x9f);
  }
  f64Max(): this {
    return this.op(0xa5);
  }
  f64ConvertI32S(): this {
    return this.op(0xb7);
  }
  f64Load(offset = 0): this {
    this.op(0x2b);
    this.memarg(3, offset);
    return this;
  }
  f64Store(offset = 0): this {
    this.op(0x39);
    this.memarg(3, offset);
    return this;
  }

  // --- v128 / f32x4
  v128Const(vals: readonly number[]): this {
    return this.simd(0x0c, ...vals.flatMap(f32Bytes));
  }
  i32x4Const(vals: readonly number[]): this {
    return this.simd(0x0c, ...vals.flatMap((v) => Array.from(new Uint8Array(new Int32Array([v]).buffer))));
  }
  /** i8x16.shuffle over 32-bit lanes: lane k of the result is lane `lanes[k]` of (a ++ b) (0–7). */
  shuffle32(lanes: readonly number[]): this {
    return this.simd(0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  f32x4ExtractLane(lane: number): this {
    return this.simd(0x1f, lane);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  /** relaxed-simd `f32x4.relaxed_madd`: a·b + c (fused or not, as the engine chooses); stack a, b, c */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  f32x4Min(): this {
    return this.simd(0xe8);
  }
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  /** `f32x4.pmin`: b < a ? b : a (one minps; a NaN in a comes through) */
  f32x4Pmin(): this {
    return this.simd(0xea);
  }
  f32x4Pmax(): this {
    return this.simd(0xeb);
  }
  f32x4Neg(): this {
    return this.simd(0xe1);
  }
  f32x4Abs(): this {
    return this.simd(0xe0);
  }
  f32x4Sqrt(): this {
    return this.simd(0xe3);
  }
  f32x4Nearest(): this {
    return this.simd(0x6a);
  }
  f32x4Floor(): this {
    return this.simd(0x68);
  }
  f32x4Ceil(): this {
    return this.simd(0x67);
  }
  f32x4Eq(): this {
    return this.simd(0x41);
  }
  f32x4Ne(): this {
    return this.simd(0x42);
  }
  f32x4ReplaceLane(lane: number): this {
    return this.simd(0x20, lane);
  }
  v128Not(): this {
    return this.simd(0x4d);
  }
  v128Xor(): this {
    return this.simd(0x51);
  }
  i32x4Sub(): this {
    return this.simd(0xb1);
  }
  i32x4ShrS(): this {
    return this.simd(0xac);
  }
  f32x4Lt(): this {
    return this.simd(0x43);
  }
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  f32x4Le(): this {
    return this.simd(0x45);
  }
  f32x4Ge(): this {
    return this.simd(0x46);
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  v128Or(): this {
    return this.simd(0x50);
  }
  v128Bitselect(): this {
    return this.simd(0x52);
  }
  i32x4TruncSatF32x4S(): this {
    return this.simd(0xf8);
  }
  f32x4ConvertI32x4S(): this {
    return this.simd(0xfa);
  }
  /** the low / high four u16 lanes of an i16x8, zero-extended to i32x4 */
  i32x4ExtendLowI16x8U(): this {
    return this.simd(0xa9);
  }
  i32x4ExtendHighI16x8U(): this {
    return this.simd(0xaa);
  }
  i32x4Shl(): this {
    return this.simd(0xab);
  }
  i32x4Add(): this {
    return this.simd(0xae);
  }
  i32x4Splat(): this {
    return this.simd(0x11);
  }

  // --- f64x2
  f64x2PromoteLowF32x4(): this {
    return this.simd(0x5f);
  }
  /** [round(a0), round(a1), 0, 0] as f32x4 */
  f32x4DemoteF64x2Zero(): this {
    return this.simd(0x5e);
  }
  f64x2Add(): this {
    return this.simd(0xf0);
  }
  f64x2Sub(): this {
    return this.simd(0xf1);
  }
  f64x2Mul(): this {
    return this.simd(0xf2);
  }
  f64x2Splat(): this {
    return this.simd(0x14);
  }
  f64x2ExtractLane(lane: number): this {
    return this.simd(0x21, lane);
  }

  // --- structured helpers
  /**
   * `for (v = from; v < to; v += step) body` with `from`/`to`/`step` pushed by callbacks (or literal
   * numbers / locals). The body may not branch out of the loop.
   */
  forRange(v: Local, from: Operand, to: Operand, step: Operand, body: () => void): this {
    this.push(from).set(v);
    this.block().loop();
    this.get(v).push(to).i32GeS().brIf(1);
    body();
    this.get(v).push(step).i32Add().set(v);
    this.br(0).end().end();
    return this;
  }

  /** Push an operand: a number is an i32 constant, a Local is read, a function writes code. */
  push(x: Operand): this {
    if (typeof x === 'number') {
      if (Number.isInteger(x)) return this.i32(x);
      throw new Error(`non-integer i32 operand ${x}`);
    }
    if (typeof x === 'function') {
      x();
      return this;
    }
    return this.get(x.local);
  }

  /** l += x (i32). */
  addTo(l: Local, x: Operand): this {
    return this.get(l).push(x).i32Add().set(l);
  }
}

/** An i32 operand: a constant, a local (`{ local }`) or code that pushes one value. */
export type Operand = number | { local: Local } | (() => void);
export const L = (local: Local): { local: Local } => ({ local });

/**
 * Over elements [0, n) of a row: each body while its width is left, widest first (e.g. two vectors, one
 * vector, one element); `j` is the element index, advanced by the width after each body.
 */
export function widthLoops(f: Fn, j: Local, n: Local, bodies: readonly (readonly [number, () => void])[]): void {
  f.i32(0).set(j);
  for (const [width, body] of bodies) {
    f.block().loop();
    f.get(j).i32(width).i32Add().get(n).i32GtS().brIf(1);
    body();
    f.get(j).i32(width).i32Add().set(j);
    f.br(0).end().end();
  }
}

/** Push the byte address of float32 element j of the array at byte address `base`. */
export const floatAt = (f: Fn, base: Local, j: Local): Fn => f.get(base).get(j).i32(2).i32Shl().i32Add();

export interface ModuleSpec {
  /** import env.memory; shared memories need a maximum */
  memory: { initial: number; maximum: number; shared: boolean };
  functions: Fn[];
}

/** Encode a module whose functions are all exported by name. Indices follow `functions` order. */
export function encodeModule(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const section = (id: number, payload: number[]): void => {
    out.push(id);
    uleb(payload.length, out);
    for (const b of payload) out.push(b);
  };
  const str = (s: string, o: number[]): void => {
    const b = new TextEncoder().encode(s);
    uleb(b.length, o);
    o.push(...b);
  };
  // types: one per function (duplicates are allowed)
  const types: number[] = [];
  uleb(spec.functions.length, types);
  for (const f of spec.functions) {
    types.push(0x60);
    uleb(f.paramTypes.length, types);
    for (const t of f.paramTypes) types.push(VALTYPE[t]);
    uleb(f.results.length, types);
    for (const t of f.results) types.push(VALTYPE[t]);
  }
  section(1, types);
  const imports: number[] = [];
  uleb(1, imports);
  str('env', imports);
  str('memory', imports);
  imports.push(0x02, spec.memory.shared ? 0x03 : 0x01);
  uleb(spec.memory.initial, imports);
  uleb(spec.memory.maximum, imports);
  section(2, imports);
  const funcs: number[] = [];
  uleb(spec.functions.length, funcs);
  spec.functions.forEach((_, k) => uleb(k, funcs));
  section(3, funcs);
  const exports: number[] = [];
  uleb(spec.functions.length, exports);
  spec.functions.forEach((f, k) => {
    str(f.name, exports);
    exports.push(0x00);
    uleb(k, exports);
  });
  section(7, exports);
  const code: number[] = [];
  const index = new Map(spec.functions.map((f, k) => [f, k]));
  const indexOf = (f: Fn): number => {
    const k = index.get(f);
    if (k === undefined) throw new Error(`wasm: ${f.name} is called but not in the module`);
    return k;
  };
  uleb(spec.functions.length, code);
  for (const f of spec.functions) {
    const body = f.body(indexOf);
    uleb(body.length, code);
    for (const b of body) code.push(b);
  }
  section(10, code);
  // the "name" custom section: CPU profiles (node --cpu-prof) then show kernel names, not wasm-function[k]
  const names: number[] = [];
  uleb(spec.functions.length, names);
  spec.functions.forEach((f, k) => {
    uleb(k, names);
    str(f.name, names);
  });
  const custom: number[] = [];
  str('name', custom);
  custom.push(1);
  uleb(names.length, custom);
  for (const b of names) custom.push(b);
  section(0, custom);
  return new Uint8Array(out);
}
