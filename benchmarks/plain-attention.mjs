// Causal attention in plain JavaScript, the way one would write it by hand without a library: per head
// and query row, the visible scores, a stable softmax and the weighted sum of v; the backward keeps P
// from the forward and walks the same triangle. Float32Array storage, float64 arithmetic in the loops
// (JS numbers), one thread. A baseline for benchmarks/attention.mjs, checked there against the library.

/**
 * o = softmax(mask(q·kᵀ·scale))·v for q, k, v [H, T, D] (C order); with `keep`, also P [H, T, T] (rows
 * zero past the diagonal).
 */
export function plainAttention(q, k, v, H, T, D, scale, keep = false) {
  const o = new Float32Array(H * T * D);
  const P = keep ? new Float32Array(H * T * T) : null;
  const row = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    const base = h * T * D;
    for (let i = 0; i < T; i++) {
      const qi = base + i * D;
      let m = -Infinity;
      for (let j = 0; j <= i; j++) {
        const kj = base + j * D;
        let s = 0;
        for (let c = 0; c < D; c++) s += q[qi + c] * k[kj + c];
        s *= scale;
        row[j] = s;
        if (s > m) m = s;
      }
      let sum = 0;
      for (let j = 0; j <= i; j++) {
        row[j] = Math.exp(row[j] - m);
        sum += row[j];
      }
      for (let j = 0; j <= i; j++) {
        const p = row[j] / sum;
        const vj = base + j * D;
        for (let c = 0; c < D; c++) o[qi + c] += p * v[vj + c];
        if (P) P[(h * T + i) * T + j] = p;
      }
    }
  }
  return { o, P };
}

/** Gradients of q, k, v given the cotangent dO of o and P from `plainAttention(…, keep = true)`. */
export function plainAttentionGrad(q, k, v, P, dO, H, T, D, scale) {
  const dq = new Float32Array(H * T * D);
  const dk = new Float32Array(H * T * D);
  const dv = new Float32Array(H * T * D);
  const dS = new Float64Array(T);
  for (let h = 0; h < H; h++) {
    const base = h * T * D;
    for (let i = 0; i < T; i++) {
      const gi = base + i * D;
      const pi = (h * T + i) * T;
      // dP_ij = dO_i · v_j; δ_i = Σ_j P_ij dP_ij; dS_ij = P_ij (dP_ij − δ_i)
      let delta = 0;
      for (let j = 0; j <= i; j++) {
        const vj = base + j * D;
        let s = 0;
        for (let c = 0; c < D; c++) s += dO[gi + c] * v[vj + c];
        dS[j] = s;
        delta += P[pi + j] * s;
      }
      for (let j = 0; j <= i; j++) {
        const p = P[pi + j];
        const ds = p * (dS[j] - delta) * scale;
        const kj = base + j * D;
        for (let c = 0; c < D; c++) {
          dq[gi + c] += ds * k[kj + c];
          dk[kj + c] += ds * q[gi + c];
          dv[kj + c] += p * dO[gi + c];
        }
      }
    }
  }
  return { dq, dk, dv };
}
