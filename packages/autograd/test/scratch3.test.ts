import { test } from 'vitest';
import * as T from '@llm-modules/tensor';
import { valueAndGrad, checkpoint, treeLeaves } from '../src/index.js';

function tracker() {
  const backend = T.getBackend() as any;
  const tracked = new Map<any, number>();
  let bytes = 0, peakBytes = 0;
  const orig = backend.execute.bind(backend);
  const add = (st: any) => { tracked.set(st, st.size * 4); bytes += st.size * 4; peakBytes = Math.max(peakBytes, bytes); return st; };
  backend.execute = (n: any, i: any) => { const r = orig(n, i); return r instanceof Promise ? r.then(add) : add(r); };
  const s = T.memoryStats as { liveStorages: number };
  let live = s.liveStorages, peak = live;
  Object.defineProperty(s, 'liveStorages', { configurable: true, enumerable: true, get: () => live, set: (v: number) => {
    if (v < live) for (const [st, b] of tracked) if (st.refs === 0) { tracked.delete(st); bytes -= b; }
    live = v; if (v > peak) peak = v; } });
  return { reset: () => { peak = live; peakBytes = bytes; return [live, bytes]; }, peak: () => [peak, peakBytes] };
}

test('checkpoint memory', async () => {
  T.setBackend('cpu');
  const tr = tracker();
  const D = 32, B = 256, L = 12;
  const keys = T.splitKey(T.prngKey(0), 2 * L + 1);
  const params = Array.from({ length: L }, (_, i) => ({ w1: T.randomNormal(keys[2 * i], [D, 4 * D], { std: 0.1 }), w2: T.randomNormal(keys[2 * i + 1], [4 * D, D], { std: 0.1 }) }));
  const x = T.randomNormal(keys[2 * L], [B, D]);
  const block = (p: { w1: T.Tensor; w2: T.Tensor }, h: T.Tensor) => T.add(h, T.matmul(T.tanh(T.matmul(T.tanh(h), p.w1)), p.w2));
  for (const sort of [false, true]) for (const ck of [false, true]) {
    const blk = ck ? checkpoint(block) : block;
    const loss = (ps: typeof params, x: T.Tensor) => T.mean(T.mul(ps.reduce((h, p) => blk(p, h), x), 0.5));
    const [v, g] = valueAndGrad(loss)(params, x);
    const base = tr.reset();
    const roots = [v, ...treeLeaves(g)];

    await T.evaluate(...roots);
    console.log(sort ? 'sorted' : 'unsorted', ck ? 'checkpoint' : 'plain', 'base', base, 'peak', tr.peak(), await v.data());
  }
});
