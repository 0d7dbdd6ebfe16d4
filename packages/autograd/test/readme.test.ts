/** The README's snippets run as written (the first one must start the README). */
import { expect, it } from 'vitest';
import { readmeSnippets, runSnippet } from '../../../test-utils/readme.js';

const pkg = new URL('../', import.meta.url);
const { readme, snippets } = readmeSnippets(pkg);

it('the README starts with a code snippet', () => {
  expect(readme.split('\n').slice(1, 4).join('\n')).toMatch(/^\s*```js/);
});

it.each(snippets.map((s, i) => [i, s] as const))('README snippet %i runs', async (i, code) => {
  const lines = await runSnippet(pkg, i, code);
  if (i === 0) {
    // The README model by hand: h = tanh(xW1), e = hW2 − y, L = mean(e²), ∂L/∂W1 = xᵀ((2/n)·eW2ᵀ ⊙ (1 − h²)).
    const x = [[1, 2], [3, 4]];
    const [w1, w2, y] = [[[0.1, -0.2], [0.3, 0.4]], [0.5, -0.6], [1, 0]];
    const h = x.map((r) => [0, 1].map((j) => Math.tanh(r[0] * w1[0][j] + r[1] * w1[1][j])));
    const e = h.map((r, i) => r[0] * w2[0] + r[1] * w2[1] - y[i]);
    const loss = (e[0] ** 2 + e[1] ** 2) / 2;
    const dz = h.map((r, i) => r.map((hj, j) => e[i] * w2[j] * (1 - hj * hj)));
    const dw1 = [0, 1].map((a) => [0, 1].map((b) => x[0][a] * dz[0][b] + x[1][a] * dz[1][b]));
    expect(lines).toHaveLength(1);
    const [value, g] = lines[0] as [Float32Array, number[][]];
    expect(value[0]).toBeCloseTo(loss, 5);
    g.forEach((row, a) => row.forEach((v, b) => expect(v).toBeCloseTo(dw1[a][b], 5)));
  }
});
