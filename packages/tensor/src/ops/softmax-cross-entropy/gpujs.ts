/** The gpu.js kernels of the softmax cross-entropy primitives (any backend; the fallback of those with their own). */
import type { View } from '../../backend.js';
import type { Tensor } from '../../tensor.js';
import { decompose, kernelFn, lit, offsetOf, type GpuKernel } from '../../kernels/codegen.js';
import type { CrossEntropyAttrs } from './attrs.js';

/** `return 0.0` unless the float `lab` is a counted class index (labels are exact floats in kernels). */
const skipUncounted = (lab: string, C: number, ignoreIndex: number): string[] => [
  `if (Math.abs(${lab} - ${lit(ignoreIndex)}) < 0.5) {\n    return 0.0;\n  }`,
  `if (${lab} < -0.5) {\n    return 0.0;\n  }`,
  `if (${lab} > ${lit(C - 0.5)}) {\n    return 0.0;\n  }`,
];

export function softmaxCrossEntropyKernel(n: Tensor, [x, labels]: readonly View[]): GpuKernel {
  const { ignoreIndex } = n.attrs as CrossEntropyAttrs;
  const C = x.shape[1];
  const at = (j: string) => `x0[${offsetOf(x, ['i0', j])}]`;
  const body = [
    decompose(n.shape),
    `const lab = x1[${offsetOf(labels, ['i0'])}];`,
    ...skipUncounted('lab', C, ignoreIndex),
    `let m = ${lit(-Infinity)};`,
    `for (let j = 0; j < ${C}; j++) {`,
    `  const v = ${at('j')};`,
    '  if (v > m) {\n      m = v;\n    }',
    '}',
    'let s = 0.0;',
    `for (let j2 = 0; j2 < ${C}; j2++) {`,
    `  s = s + Math.exp(${at('j2')} - m);`,
    '}',
    `return (m - ${at('lab')}) + Math.log(s);`,
  ];
  return { source: kernelFn(2, body.join('\n  ')), inputs: [x, labels] };
}

export function softmaxCrossEntropyGradKernel(n: Tensor, [x, labels, fwd, g]: readonly View[]): GpuKernel {
  const { ignoreIndex } = n.attrs as CrossEntropyAttrs;
  const C = x.shape[1];
  const body = [
    decompose(n.shape),
    `const lab = x1[${offsetOf(labels, ['i0'])}];`,
    ...skipUncounted('lab', C, ignoreIndex),
    // p = exp(x − logsumexp) with logsumexp = fwd + x[label]; x − x[label] first (exact for close values)
    `const p = Math.exp((x0[${offsetOf(x, ['i0', 'i1'])}] - x0[${offsetOf(x, ['i0', 'lab'])}]) - x2[${offsetOf(fwd, ['i0'])}]);`,
    `const gn = x3[${offsetOf(g, ['i0'])}];`,
    'if (Math.abs(i1 - lab) < 0.5) {\n    return gn * (p - 1.0);\n  }',
    'return gn * p;',
  ];
  return { source: kernelFn(4, body.join('\n  ')), inputs: [x, labels, fwd, g] };
}
