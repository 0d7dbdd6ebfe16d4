/**
 * GRAD_SPECS: every differentiable primitive and composite, with its arity, input domains, tolerance
 * and the random shapes it is checked over. `grad-specs.test.ts` expands the table into fast-check
 * properties (`checkGrads` in float64 on the reference backend, some rows also on `cpu` in float32);
 * `completeness.test.ts` fails when a differentiable primitive has no row here.
 */
import type * as fc from 'fast-check';
import * as T from '@llm-modules/tensor';
import type { Tensor } from '@llm-modules/tensor';
import { checkpoint, customVjp, grad, vjp } from '../src/index.js';
import type { Domain } from '../src/testing.js';
import * as C from './cases.js';
import { attention, crossEntropy, embedding, geluErf, geluTanh, layerNorm, mlp, rmsNorm } from './composites.js';

export interface Tol {
  atol: number;
  rtol: number;
}

export interface GradSpec<P = any> {
  name: string;
  /** Registry names of the primitives whose vjp rule this row checks ([] for a composite). */
  covers: readonly string[];
  /** Tensor inputs, one domain each (int/bool inputs are held fixed). */
  arity: number;
  domain: readonly Domain[];
  /** float64 tolerance on the reference backend. */
  tol: Tol;
  /** Highest derivative order checked (2 for every row: the rules' own rules are checked too). */
  order: 1 | 2;
  /** Input shapes and op parameters. */
  cases: fc.Arbitrary<C.Case<P>>;
  f: (p: P, ...xs: Tensor[]) => unknown;
  /** Also checked with gradients in float32 on the `cpu` backend (against float64 differences), with this tolerance. */
  cpu?: Tol;
}

const F64: Tol = { atol: 1e-8, rtol: 1e-6 };
/** Norms are near-singular when a row's values all lie within ~√eps of 0 (RMSNorm) or of each other (LayerNorm). */
const NORM: Tol = { atol: 1e-8, rtol: 1e-5 };
const F32: Tol = { atol: 1e-4, rtol: 1e-3 };

function row<P>(name: string, covers: readonly string[], domain: readonly Domain[], cases: fc.Arbitrary<C.Case<P>>, f: (p: P, ...xs: Tensor[]) => unknown, extra: Partial<GradSpec<P>> = {}): GradSpec<P> {
  return { name, covers, arity: domain.length, domain, tol: F64, order: 2, cases, f, ...extra };
}

const unary = (name: string, op: (x: Tensor) => Tensor, domain: Domain, extra: Partial<GradSpec> = {}) =>
  row(name, [name], [domain], C.sameShapes(1), (_p, x) => op(x), extra);
const binary = (name: string, op: (a: Tensor, b: Tensor) => Tensor, domains: [Domain, Domain], extra: Partial<GradSpec> = {}) =>
  row(name, [name], domains, C.broadcastable(2), (_p, a, b) => op(a, b), extra);

/** log(1 + eˣ) with a hand-written gradient σ(x) (customVjp). */
const softplus = customVjp(
  (x: Tensor) => T.log(T.add(1, T.exp(x))),
  (x: Tensor) => [T.log(T.add(1, T.exp(x))), x] as [Tensor, Tensor],
  (x: Tensor, g: Tensor) => [T.mul(g, T.sigmoid(x))],
);
/** tanh(a)·b with both partials written by hand, residuals shared with the forward. */
const tanhTimes = customVjp(
  (a: Tensor, b: Tensor) => T.mul(T.tanh(a), b),
  (a: Tensor, b: Tensor) => {
    const t = T.tanh(a);
    return [T.mul(t, b), { t, b }] as [Tensor, { t: Tensor; b: Tensor }];
  },
  ({ t, b }: { t: Tensor; b: Tensor }, g: Tensor) => [T.mul(g, T.mul(b, T.sub(1, T.mul(t, t)))), T.mul(g, t)],
);
/** logits [..., C] and labels [...] as the [N, C] and [N] the fused cross-entropy takes. */
const rows = (logits: Tensor, labels: Tensor): [Tensor, Tensor] => [T.reshape(logits, [labels.size, logits.shape[logits.rank - 1]]), T.reshape(labels, [labels.size])];
const block = checkpoint((h: Tensor, w: Tensor) => T.tanh(T.add(h, T.matmul(T.tanh(h), w))));

export const GRAD_SPECS: readonly GradSpec[] = [
  // ── unary elementwise primitives ──
  unary('neg', T.neg, 'real'),
  unary('exp', T.exp, 'real'),
  unary('log', T.log, 'positive'),
  unary('sqrt', T.sqrt, 'positive'),
  unary('rsqrt', T.rsqrt, 'positive'),
  unary('tanh', T.tanh, 'real', { cpu: F32 }),
  unary('sigmoid', T.sigmoid, 'real'),
  // (−2, 2): the reference backend's float64 erf loses ~100 ulps near |x| = 3 (series cancellation),
  // below the resolution of float64 central differences there; see the report to the tensor package.
  unary('erf', T.erf, { min: -2, max: 2 }),
  unary('abs', T.abs, 'awayFromZero'),
  unary('sin', T.sin, 'real'),
  unary('cos', T.cos, 'real'),
  unary('reciprocal', T.reciprocal, 'awayFromZero'),
  unary('copy', (x) => T.node('copy', x.shape, x.dtype, [x]), 'real'),
  // float→float32 passes the gradient; the bool→float32 cast of the mask is constant.
  row('cast', ['cast'], ['awayFromZero'], C.sameShapes(1), (_p, x) =>
    T.mul(T.node('cast', x.shape, 'float32', [x], { dtype: 'float32' }), T.cast(T.greater(x, 0), 'float32')),
  ),
  // ── binary elementwise primitives, broadcasting ──
  binary('add', T.add, ['real', 'real'], { cpu: F32 }),
  binary('sub', T.sub, ['real', 'real']),
  binary('mul', T.mul, ['real', 'real'], { cpu: F32 }),
  binary('div', T.div, ['real', 'awayFromZero']),
  binary('pow', T.pow, ['positive', 'small']),
  binary('maximum', T.maximum, ['distinct', 'distinct']),
  binary('minimum', T.minimum, ['distinct', 'distinct']),
  row('where', ['where'], ['bool', 'real', 'real'], C.broadcastable(3), (_p, c, a, b) => T.where(c, a, b)),
  // ── reductions ──
  row('sum', ['sum'], ['real'], C.reduction(), (p, x) => T.sum(x, p.axes, p.keepdims)),
  row('max', ['max'], ['distinct'], C.reduction(), (p, x) => T.max(x, p.axes, p.keepdims)),
  // ── movement ──
  row('reshape', ['reshape'], ['real'], C.reshapes(), (p, x) => T.reshape(p.transposeFirst ? T.transpose(x) : x, p.target)),
  row('permute', ['permute'], ['real'], C.permutations(), (p, x) => T.permute(x, p.axes)),
  row('broadcastTo', ['broadcastTo'], ['real'], C.broadcastTargets(), (p, x) => T.broadcastTo(x, p.target)),
  row('slice (steps, negative)', ['slice'], ['real'], C.slices(), (p, x) => T.slice(x, p.starts, p.stops, p.steps)),
  row('pad', ['pad'], ['real'], C.pads(), (p, x) => T.pad(x, p.pads, p.value)),
  row('concat', ['concat'], ['real', 'real', 'real'], C.concats(), (p, a, b, c) => T.concat([a, b, c], p.axis)),
  // ── indexing ──
  row('gather', ['gather'], ['real', 'indices'], C.gathers(), (p, x, idx) => T.gather(x, idx, p.axis)),
  row('scatterAdd', ['scatterAdd'], ['real', 'indices'], C.scatters(), (p, u, idx) => T.scatterAdd(u, idx, p.axis, p.dimSize)),
  // ── linear algebra ──
  row('matmul (broadcast batch dims, vectors)', ['matmul'], ['real', 'real'], C.matmuls(), (_p, a, b) => T.matmul(a, b), { cpu: F32 }),
  // ── autograd's own primitives ──
  row('autograd.input (gradient of a gradient)', ['autograd.input'], ['real'], C.sameShapes(1), (_p, x) => grad((y: Tensor) => T.sum(T.mul(T.sin(y), y)))(x)),
  row('autograd.customVjp (softplus; tanh(a)·b)', ['autograd.customVjp'], ['real', 'real'], C.sameShapes(2), (_p, a, b) => [softplus(a), tanhTimes(a, b)]),
  row('autograd.checkpoint (residual block)', ['autograd.checkpoint'], ['small', 'small'], C.normShapes(0).map((c) => ({ ...c, shapes: [c.shapes[0], [c.shapes[0].at(-1)!, c.shapes[0].at(-1)!]] })), (_p, h, w) => block(block(h, w), w)),
  // ── composites ──
  row('mean', [], ['real'], C.reduction(), (p, x) => T.mean(x, p.axes, p.keepdims)),
  row('softmax', [], ['real'], C.oneAxis(), (p, x) => T.softmax(x, p.axis), { cpu: F32 }),
  row('logSoftmax', [], ['real'], C.oneAxis(), (p, x) => T.logSoftmax(x, p.axis)),
  row('logsumexp', [], ['real'], C.reduction(), (p, x) => T.logsumexp(x, p.axes, p.keepdims)),
  row('relu', [], ['awayFromZero'], C.sameShapes(1), (_p, x) => T.relu(x)),
  row('LayerNorm', [], ['real', 'real', 'real'], C.normShapes(2), (_p, x, g, b) => layerNorm(x, g, b), { tol: NORM, cpu: F32 }),
  row('RMSNorm', [], ['real', 'real'], C.normShapes(1), (_p, x, w) => rmsNorm(x, w), { tol: NORM }),
  row('GELU (erf)', [], ['real'], C.sameShapes(1), (_p, x) => geluErf(x)),
  row('GELU (tanh)', [], ['real'], C.sameShapes(1), (_p, x) => geluTanh(x)),
  row('cross-entropy (ignore index)', [], ['real', 'labels'], C.classification(), (_p, logits, labels) => crossEntropy(logits, labels), { cpu: F32 }),
  row('attention (causal)', [], ['small', 'small', 'small'], C.attentions(true, false), (_p, q, k, v) => attention(q, k, v, { causal: true })),
  row('attention (padding mask)', [], ['small', 'small', 'small', 'mask'], C.attentions(false, true), (_p, q, k, v, m) => attention(q, k, v, { keyMask: m })),
  row('attention (causal + padding)', [], ['small', 'small', 'small', 'mask'], C.attentions(true, true), (_p, q, k, v, m) => attention(q, k, v, { causal: true, keyMask: m })),
  // the fused attention primitives of the tensor package (keys may outnumber queries: Tk ≥ Tq)
  row('attention (fused, causal)', ['attention'], ['small', 'small', 'small'], C.attentions(false, false), (_p, q, k, v) => T.fusedAttention(q, k, v)),
  row('attention (fused, sliding window)', ['attention'], ['small', 'small', 'small'], C.attentions(false, false), (_p, q, k, v) => T.fusedAttention(q, k, v, { window: 2, scale: 0.7 })),
  row(
    'attention backward (fused)',
    ['attentionGrad'],
    ['small', 'small', 'small', 'small'],
    C.attentions(false, false).map((c) => ({ ...c, shapes: [...c.shapes, c.shapes[0]] })),
    (_p, q, k, v, g) => vjp((a: Tensor, b: Tensor, c: Tensor) => T.fusedAttention(a, b, c), q, k, v)[1](g),
  ),
  // the fused softmax cross-entropy primitives of the tensor package (logits [..., C] flattened to rows; about a quarter of the labels ignored)
  row('softmax cross-entropy (fused, ignore index)', ['softmaxCrossEntropy'], ['real', 'labels'], C.classification(), (_p, logits, labels) => T.softmaxCrossEntropy(...rows(logits, labels)), { cpu: F32 }),
  row(
    'softmax cross-entropy backward (fused)',
    ['softmaxCrossEntropyGrad'],
    ['real', 'labels', 'real'],
    C.classification().map((c) => ({ ...c, shapes: [...c.shapes, c.shapes[1]] })),
    (_p, logits, labels, g) => vjp((x: Tensor) => T.softmaxCrossEntropy(...rows(x, labels)), logits)[1](T.reshape(g, [g.size])),
  ),
  // the fused LayerNorm primitives of the tensor package (backward: dx, dweight and dbias of one packed node)
  row('LayerNorm (fused)', ['layerNorm'], ['real', 'real', 'real'], C.normShapes(2), (_p, x, w, b) => T.layerNorm(x, w, b), { tol: NORM, cpu: F32 }),
  row(
    'LayerNorm backward (fused)',
    ['layerNormGrad'],
    ['real', 'real', 'real', 'real'],
    C.normShapes(2).map((c) => ({ ...c, shapes: [...c.shapes, c.shapes[0]] })),
    (_p, x, w, b, g) => vjp((a: Tensor, c: Tensor, d: Tensor) => T.layerNorm(a, c, d), x, w, b)[1](g),
    { tol: NORM },
  ),
  // GELU's tanh approximation as primitives (forward, and its backward with a second-order rule of its own)
  row('GELU (tanh, fused)', ['geluTanh'], ['real'], C.sameShapes(1), (_p, x) => T.geluTanh(x), { cpu: F32 }),
  row('GELU (tanh) backward (fused)', ['geluTanhGrad'], ['real', 'real'], C.sameShapes(2), (_p, x, g) => T.geluTanhGrad(x, g)),
  row('embedding (gather rows)', [], ['real', 'indices'], C.embeddings(), (_p, table, ids) => embedding(table, ids)),
  row('MLP', [], ['small', 'small', 'small', 'small'], C.mlps(), (_p, x, w1, b1, w2) => mlp({ w1, b1, w2 }, x)),
];
