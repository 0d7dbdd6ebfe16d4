/**
 * Matmul and gather over tensors bigger than one device kernel may touch, as several kernels over
 * windows of them. Two limits bind a gpu.js device kernel: its index arithmetic is float32 (exact below
 * 2^23 elements, `F32_INDEX_LIMIT`), and WebGPU binds at most `maxStorageBufferBindingSize` bytes per
 * buffer (128 MiB on Dawn over OpenGL ES). A Qwen2-1.5B embedding / tied head is 151,936 × 1,536 floats
 * (233 M elements): the head runs as one matmul per block of W's rows, the lookup as one gather per
 * block of table rows that an id falls in. The backend passes the limit (`gpuElementLimit`) and its
 * runner; callers above the op API never see the tiles.
 */
import type { Storage, View } from '../../backend.js';
import { contiguousView, newStorage } from '../../backend.js';
import { release, retain } from '../../memory.js';
import { Tensor } from '../../tensor.js';

/** What tiling needs from the backend. */
export interface TileHost {
  /** the most elements one kernel's output or one bound input may have */
  readonly limit: number;
  /** run `node` over `inputs` (each under the limit) on the device */
  run(node: Tensor, inputs: readonly View[]): Promise<Storage>;
  /** `view` with its storage cut down to the elements it reaches, when that storage is over the limit */
  window(view: View): Promise<View>;
  /** a storage's values on the host */
  read(storage: Storage): Promise<Float32Array>;
}

/** The lowest and highest offset a view reaches (strides may be 0 or negative). */
export function reach(v: View): [number, number] {
  let lo = v.offset;
  let hi = v.offset;
  for (let d = 0; d < v.shape.length; d++) {
    if (v.shape[d] === 0) return [v.offset, v.offset - 1];
    const step = (v.shape[d] - 1) * v.strides[d];
    if (step < 0) lo += step;
    else hi += step;
  }
  return [lo, hi];
}

const span = (v: View): number => reach(v)[1] - reach(v)[0] + 1;

/** `v` cut to `len` entries of dim `d` from `start` (same storage). */
function slice(v: View, d: number, start: number, len: number): View {
  const shape = v.shape.slice();
  shape[d] = len;
  return { storage: v.storage, shape, strides: v.strides, offset: v.offset + start * v.strides[d] };
}

/** The largest chunk of dim `d` whose slice of `v` reaches under `limit` elements (0: none does). */
function chunkFor(v: View, d: number, limit: number): number {
  if (v.storage.size < limit) return v.shape[d];
  let chunk = v.shape[d];
  while (chunk > 0 && span(slice(v, d, 0, chunk)) >= limit) chunk = Math.floor(chunk / 2);
  return chunk;
}

const holding = async <T>(held: Storage[], f: () => Promise<T>): Promise<T> => {
  try {
    return await f();
  } finally {
    for (const s of held) release(s);
  }
};

/**
 * `parts` (contiguous, shapes `shapes`) joined along `axis` into the node's output: by a device concat
 * when the output is under the limit, else on the host (the output alone is over what a kernel writes).
 */
async function join(host: TileHost, node: Tensor, parts: Storage[], shapes: number[][], axis: number): Promise<Storage> {
  if (parts.length === 1) return parts[0];
  if (node.size < host.limit) {
    return host.run(new Tensor(node.shape, node.dtype, 'concat', [], { axis }), parts.map((p, k) => contiguousView(p, shapes[k])));
  }
  const out = new Float32Array(node.size);
  const outer = node.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = node.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const row = node.shape[axis] * inner;
  let at = 0;
  for (let k = 0; k < parts.length; k++) {
    const data = await host.read(parts[k]);
    const width = shapes[k][axis] * inner;
    for (let o = 0; o < outer; o++) out.set(data.subarray(o * width, (o + 1) * width), o * row + at);
    at += width;
  }
  return newStorage('host', node.size, out);
}

/**
 * `node` (a matmul `[..., M, K] @ [..., K, N]`) as matmuls over blocks of N (b's columns: rows of a
 * transposed weight) and, when a is the big one, of M; undefined when no split fits (K alone too big).
 * @example-skip needs a gpu.js device backend; test/gpu-tiling.test.ts runs it on webgpu with a small limit
 */
export async function tiledMatmul(host: TileHost, node: Tensor, [a, b]: readonly View[]): Promise<Storage | undefined> {
  const { limit } = host;
  const r = node.rank;
  const [M, N] = [node.shape[r - 2], node.shape[r - 1]];
  const batch = node.size / Math.max(1, M * N);
  let cn = chunkFor(b, b.shape.length - 1, limit);
  let cm = chunkFor(a, a.shape.length - 2, limit);
  while (cm > 0 && cn > 0 && batch * cm * cn >= limit) {
    if (cn >= cm) cn = Math.floor(cn / 2);
    else cm = Math.floor(cm / 2);
  }
  if (cm === 0 || cn === 0) return undefined;
  const held: Storage[] = [];
  return holding(held, async () => {
    const rows: Storage[] = [];
    const rowShapes: number[][] = [];
    for (let m = 0; m < M; m += cm) {
      const lm = Math.min(cm, M - m);
      const aw = cm === M ? await host.window(a) : await host.window(slice(a, a.shape.length - 2, m, lm));
      const parts: Storage[] = [];
      const shapes: number[][] = [];
      for (let n = 0; n < N; n += cn) {
        const ln = Math.min(cn, N - n);
        const bw = cn === N ? await host.window(b) : await host.window(slice(b, b.shape.length - 1, n, ln));
        const shape = [...node.shape.slice(0, -2), lm, ln];
        const part = await host.run(new Tensor(shape, node.dtype, 'matmul', [], node.attrs), [aw, bw]);
        retain(part);
        held.push(part);
        parts.push(part);
        shapes.push(shape);
      }
      const rowShape = [...node.shape.slice(0, -2), lm, N];
      const joined = await join(host, new Tensor(rowShape, node.dtype, 'concat', [], {}), parts, shapes, r - 1);
      if (joined !== parts[0]) {
        retain(joined);
        held.push(joined);
      }
      rows.push(joined);
      rowShapes.push(rowShape);
    }
    return keep(held, await join(host, node, rows, rowShapes, r - 2));
  });
}

/** `out` taken out of the storages released after a tiling (its reference dropped without freeing it). */
function keep(held: Storage[], out: Storage): Storage {
  const i = held.indexOf(out);
  if (i >= 0) {
    held.splice(i, 1);
    out.refs--;
  }
  return out;
}

/** The entries of an int32 view (stored as floats), in C order. */
async function indexValues(host: TileHost, v: View): Promise<number[]> {
  const data = await host.read(v.storage);
  const out: number[] = [];
  const walk = (d: number, at: number): void => {
    if (d === v.shape.length) {
      out.push(data[at]);
      return;
    }
    for (let k = 0; k < v.shape[d]; k++) walk(d + 1, at + k * v.strides[d]);
  };
  walk(0, v.offset);
  return out;
}

/**
 * `node` (a gather along `axis`) as one gather per block of x's entries along the axis that an index
 * falls in (indices read on the host, clamped as the kernel clamps), joined along the axis, then put back
 * in the indices' order by one more gather; undefined when no split fits (the output itself too big).
 * @example-skip needs a gpu.js device backend; test/gpu-tiling.test.ts runs it on webgpu with a small limit
 */
export async function tiledGather(host: TileHost, node: Tensor, [x, idx]: readonly View[]): Promise<Storage | undefined> {
  const axis = node.attrs.axis as number;
  const rows = chunkFor(x, axis, host.limit);
  if (rows === 0 || node.size >= host.limit) return undefined;
  const V = x.shape[axis];
  const ids = (await indexValues(host, idx)).map((j) => Math.min(Math.max(Math.trunc(j), 0), V - 1));
  const blocks = new Map<number, number[]>();
  ids.forEach((j, p) => {
    const blk = Math.floor(j / rows);
    const list = blocks.get(blk) ?? [];
    list.push(p);
    blocks.set(blk, list);
  });
  const pre = node.shape.slice(0, axis);
  const post = x.shape.slice(axis + 1);
  const held: Storage[] = [];
  const hold = (s: Storage): Storage => {
    retain(s);
    held.push(s);
    return s;
  };
  const order: number[] = [];
  const parts: Storage[] = [];
  const shapes: number[][] = [];
  return holding(held, async () => {
    for (const [blk, positions] of [...blocks].sort((p, q) => p[0] - q[0])) {
      const start = blk * rows;
      const xw = await host.window(slice(x, axis, start, Math.min(rows, V - start)));
      const local = hold(newStorage('host', positions.length, Float32Array.from(positions, (p) => ids[p] - start)));
      const shape = [...pre, positions.length, ...post];
      const part = await host.run(new Tensor(shape, node.dtype, 'gather', [], { axis }), [xw, contiguousView(local, [positions.length])]);
      parts.push(hold(part));
      shapes.push(shape);
      order.push(...positions);
    }
    const flat = [...pre, ids.length, ...post];
    const joined = await join(host, new Tensor(flat, node.dtype, 'concat', [], {}), parts, shapes, axis);
    if (order.every((p, k) => p === k)) return keep(held, joined);
    if (joined !== parts[0]) hold(joined);
    // where each output position's row sits in the joined blocks
    const perm = new Float32Array(ids.length);
    order.forEach((p, k) => (perm[p] = k));
    const permS = hold(newStorage('host', ids.length, perm));
    return host.run(new Tensor(flat, node.dtype, 'gather', [], { axis }), [contiguousView(joined, flat), contiguousView(permS, [ids.length])]);
  });
}
