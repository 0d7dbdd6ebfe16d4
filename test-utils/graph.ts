/** Reading a lazy tensor graph in tests: which primitives a computation reaches (e.g. a fused kernel). */
/** What a tensor node shows of its graph (a `Tensor` before evaluation). */
interface GraphNode {
  op: string;
  inputs: readonly GraphNode[];
}

/**
 * Every primitive's name in the lazy graph behind `t` (call before evaluating: evaluation drops the inputs).
 * @example `expect(graphOps(model.apply(params, ids).logits).has('attention')).toBe(true)`
 */
export function graphOps(t: GraphNode, seen = new Set<GraphNode>(), out = new Set<string>()): Set<string> {
  if (seen.has(t)) return out;
  seen.add(t);
  out.add(t.op);
  for (const i of t.inputs) graphOps(i, seen, out);
  return out;
}
