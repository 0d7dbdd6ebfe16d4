/**
 * A student head started from the teacher's: the teacher's head `W` `[V, Dt]` restricted to its top `Ds` principal
 * directions, `W·Q` `[V, Ds]` with `Q` the leading eigenvectors of `WᵀW`. Then `W·h ≈ (W·Q)·(Qᵀh)`: a student whose
 * last state learns `Qᵀh` of the teacher's last state `h` — one shared `Dt → Ds` map — predicts what the teacher
 * predicts, for answers it never saw as a target too. The head is tied to the token table where the student keeps
 * its own tokens (`gated-tokens`), so its tokens start in the teacher's geometry as well.
 */

/**
 * Eigenvectors of a symmetric `n × n` matrix (row-major), by cyclic Jacobi rotations; columns sorted by descending
 * eigenvalue. Plenty for the demo's 64 × 64 Gram matrix.
 * @example
 * ```ts
 * const { values } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
 * console.log(values); // [3, 1]
 * ```
 */
export function symmetricEigen(m: Float64Array, n: number): { values: number[]; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // rotate columns p and q of a, then rows p and q: a ← Jᵀ a J
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((col, j) => {
    for (let k = 0; k < n; k++) vectors[k * n + j] = v[k * n + col];
  });
  return { values: order.map((i) => a[i * n + i]), vectors };
}

/**
 * The teacher's head `w` `[V, Dt]` (row-major) on its top `ds` principal directions: `W·Q` `[V, ds]`.
 * @example
 * ```ts
 * const rows = teacherHeadRows(Float32Array.from([3, 0, 0, 1, 3, 0]), 3, 2, 1); // the x axis carries the most
 * console.log(Array.from(rows, Math.abs)); // [3, 0, 3]
 * ```
 */
export function teacherHeadRows(w: Float32Array, V: number, Dt: number, ds: number): Float32Array {
  if (ds > Dt) throw new Error(`teacherHeadRows: a ${ds}-wide student head cannot hold more than the teacher's ${Dt} directions`);
  const gram = new Float64Array(Dt * Dt);
  for (let r = 0; r < V; r++) {
    for (let i = 0; i < Dt; i++) {
      const wi = w[r * Dt + i];
      if (wi !== 0) for (let j = 0; j < Dt; j++) gram[i * Dt + j] += wi * w[r * Dt + j];
    }
  }
  const { vectors } = symmetricEigen(gram, Dt);
  const out = new Float32Array(V * ds);
  for (let r = 0; r < V; r++) {
    for (let j = 0; j < ds; j++) {
      let s = 0;
      for (let i = 0; i < Dt; i++) s += w[r * Dt + i] * vectors[i * Dt + j];
      out[r * ds + j] = s;
    }
  }
  return out;
}
