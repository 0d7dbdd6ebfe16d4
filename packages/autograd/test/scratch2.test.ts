import { test } from 'vitest';
import * as T from '@llm-modules/tensor';
import { checkGrads, makeTensor } from '../src/testing.js';
test('scratch checkGrads', async () => {
  const x = makeTensor([3, 4], 'real', 1);
  const y = makeTensor([4], 'real', 2);
  let t0 = performance.now();
  console.log(await checkGrads((a, b) => T.tanh(T.mul(a, b)), [x, y], { order: 2 }), performance.now() - t0);
  t0 = performance.now();
  console.log(await checkGrads((a, b) => T.softmax(T.matmul(a, b)), [x, makeTensor([4, 5], 'real', 3)], { order: 1 }), performance.now() - t0);
  // a wrong gradient must fail
  const { customVjp } = await import('../src/index.js');
  const bad = customVjp((a: T.Tensor) => T.sin(a), undefined, (a: [T.Tensor], g: T.Tensor) => [T.mul(g, T.sin(a[0]))] as any);
  await checkGrads(bad as any, [x]).then(() => console.log('NOT DETECTED'), (e) => console.log('detected', e.message));
});
