import type { Shape } from '../shape.js';
import type { View } from '../backend.js';
import { broadcastView, decompose, isPlain, kernelFn, names, offsetOf, type GpuKernel } from '../kernels/codegen.js';

/**
 * The gpu.js source of an elementwise op over `shape`: input k is read into `v{k}` (broadcast and strided
 * reads handled here), then `body` (statements ending in `return …;`) computes the value.
 */
export function elementwiseKernel(shape: Shape, inputs: readonly View[], body: (v: string[]) => string): GpuKernel {
  const views = inputs.map((v) => broadcastView(v, shape));
  const plain = views.map((v) => isPlain(v, shape));
  const idx = names('i', shape.length);
  const lines: string[] = [];
  if (plain.some((p) => !p)) lines.push(decompose(shape));
  views.forEach((v, k) => lines.push(`const v${k} = x${k}[${plain[k] ? 'this.thread.x' : offsetOf(v, idx)}];`));
  lines.push(body(views.map((_, k) => `v${k}`)));
  return { source: kernelFn(views.length, lines.join('\n  ')), inputs: views };
}
