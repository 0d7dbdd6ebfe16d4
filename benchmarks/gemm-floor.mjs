// The GEMM floor of a workload: every kernel the backend runs is timed (a recording wrapper around the
// active backend's `execute` and `executeGroup`, below the op API: every matmul, fused group, reduction and
// copy the evaluator launches, whoever built the graph), each matmul with its operands' shapes and strides;
// then our GEMM is timed alone on each of those exact shapes (same shapes, same strides: transposed and
// broadcast operands stay so), and the floor is Σ count × that time — what the workload would take if it
// ran at its own GEMM's speed and did nothing else.
import * as T from '@llm-modules/tensor';

const prod = (xs) => xs.reduce((a, b) => a * b, 1);
const layout = (v) => `${v.shape.join('x')}/${v.strides.join('.')}`;

/** Start recording kernels on the active backend; `take()` returns what ran since the last `take()`. */
export function recordKernels() {
  const backend = T.getBackend();
  const { execute, executeGroup } = backend;
  let byOp = new Map(); // op or fused:<ops> → { calls, ms }
  let matmuls = new Map(); // layouts → { a, b, out, K, calls, ms, flops }
  let paths = { ...T.kernelStats.byPath }; // the kernel paths taken (kernelStats.byPath) since the last take()
  const add = (key, ms) => {
    const e = byOp.get(key) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += ms;
    byOp.set(key, e);
  };
  backend.execute = async function (t, inputs, ...rest) {
    const t0 = performance.now();
    const out = await execute.call(this, t, inputs, ...rest); // rest: the dead input's storage to write into (inPlace)
    const ms = performance.now() - t0;
    add(t.op, ms);
    if (t.op === 'matmul') {
      const [a, b] = inputs;
      const key = `${layout(a)} @ ${layout(b)}`;
      const K = a.shape[a.shape.length - 1];
      const e = matmuls.get(key) ?? { a: { shape: [...a.shape], strides: [...a.strides] }, b: { shape: [...b.shape], strides: [...b.strides] }, out: [...t.shape], K, calls: 0, ms: 0, flops: 2 * prod(t.shape) * K };
      e.calls++;
      e.ms += ms;
      matmuls.set(key, e);
    }
    return out;
  };
  if (executeGroup) {
    backend.executeGroup = async function (group, externals, ...rest) {
      const t0 = performance.now();
      const out = await executeGroup.call(this, group, externals, ...rest); // rest: the donated storage to write into
      add(`fused:${group.members.map((m) => m.op).join(',')}${group.sum ? '>sum' : ''}`, performance.now() - t0);
      return out;
    };
  }
  return {
    take() {
      const now = { ...T.kernelStats.byPath };
      const r = { byOp, matmuls, paths: Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (paths[k] ?? 0)]).filter(([, v]) => v > 0)) };
      byOp = new Map();
      matmuls = new Map();
      paths = now;
      return r;
    },
    stop() {
      backend.execute = execute;
      if (executeGroup) backend.executeGroup = executeGroup;
    },
  };
}

/** A tensor of `shape` whose view has `strides` (dense storage laid out in the strides' order; 0 = broadcast). */
export function operandLike({ shape, strides }, seed = 1) {
  const base = shape.map((s, i) => (strides[i] === 0 ? 1 : s));
  const order = shape.map((_, i) => i).sort((i, j) => strides[j] - strides[i] || i - j);
  const data = new Float32Array(prod(base));
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 4294967296 - 0.5;
  }
  let x = T.tensor(data, order.map((i) => base[i]));
  if (order.some((d, i) => d !== i)) x = T.permute(x, shape.map((_, j) => order.indexOf(j)));
  if (strides.includes(0)) x = T.broadcastTo(x, shape);
  return x;
}

/**
 * Time our GEMM alone on each recorded matmul layout (best of `reps` after a warm-up; `evaluate`, no read
 * back) and return the floor: [{ key, calls, flops, ms (in the workload, per call), gemmMs (alone, per call) }].
 */
export async function gemmFloor(matmuls, { reps = 3 } = {}) {
  const rows = [];
  for (const [key, e] of matmuls) {
    const A = operandLike(e.a, 1);
    const B = operandLike(e.b, 2);
    await T.evaluate(A, B);
    const once = async () => {
      const c = T.matmul(A, B);
      const t0 = performance.now();
      await T.evaluate(c);
      const ms = performance.now() - t0;
      c.dispose();
      return ms;
    };
    await once();
    let best = Infinity;
    const n = e.flops > 5e10 ? Math.min(reps, 2) : reps;
    for (let r = 0; r < n; r++) best = Math.min(best, await once());
    A.dispose();
    B.dispose();
    rows.push({ key, calls: e.calls, flops: e.flops, ms: e.ms / e.calls, gemmMs: best });
  }
  return rows;
}

/** One workload's summary: wall ms, in-workload matmul ms, the floor, and the rest by primitive. */
export function summarize(name, wallMs, { byOp, paths }, floorRows) {
  const floor = floorRows.reduce((s, r) => s + r.calls * r.gemmMs, 0);
  const matmulMs = floorRows.reduce((s, r) => s + r.calls * r.ms, 0);
  const flops = floorRows.reduce((s, r) => s + r.calls * r.flops, 0);
  const kernelMs = [...byOp.values()].reduce((s, e) => s + e.ms, 0);
  const rest = [...byOp.entries()]
    .filter(([op]) => op !== 'matmul')
    .map(([op, e]) => ({ op, calls: e.calls, ms: e.ms }))
    .sort((a, b) => b.ms - a.ms);
  rest.unshift({ op: '(outside kernels: graph building, autograd, scheduling, data, read-back)', calls: 0, ms: Math.max(0, wallMs - kernelMs) });
  return { name, paths, wallMs, matmulMs, floorMs: floor, ratio: wallMs / floor, gflopsAtFloor: flops / floor / 1e6, matmulGflops: flops / matmulMs / 1e6, matmulFlops: flops, rest, shapes: floorRows };
}
