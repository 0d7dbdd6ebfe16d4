/**
 * A student head started from the teacher's: the teacher's head `W` `[V, Dt]` restricted to its top `Ds` principal
 * directions, `W·Q` `[V, Ds]` with `Q` the leading eigenvectors of `WᵀW`. Then `W·h ≈ (W·Q)·(Qᵀh)`: a student whose
 * last state learns `Qᵀh` of the teacher's last state `h` — one shared `Dt → Ds` map — predicts what the teacher
 * predicts, for answers it never saw as a target too. The head is tied to the token table where the student keeps
 * its own tokens (`gated-tokens`), so its tokens start in the teacher's geometry as well. `teacherInputProjection`
 * is that map `Qᵀ`, the start of `gated-tokens`' same-position input projection.
 */
import { tensor, type Tensor } from '@llm-modules/tensor';
import type { CausalLM, Params } from '@llm-modules/transformer';

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
 * The top `ds` principal directions of the teacher's head `w` `[V, Dt]` (row-major): `Q` `[Dt, ds]` (row-major),
 * the leading eigenvectors of `WᵀW`. `Qᵀh` is what a student needs of a teacher state `h` to predict as the
 * teacher does through the head `W·Q`.
 * @example
 * ```ts
 * const q = teacherHeadBasis(Float32Array.from([3, 0, 0, 1, 3, 0]), 3, 2, 1); // the x axis carries the most
 * console.log(Array.from(q, Math.abs)); // [1, 0]
 * ```
 */
export function teacherHeadBasis(w: Float32Array, V: number, Dt: number, ds: number): Float64Array {
  if (ds > Dt) throw new Error(`teacherHeadRows: a ${ds}-wide student head cannot hold more than the teacher's ${Dt} directions`);
  const gram = new Float64Array(Dt * Dt);
  for (let r = 0; r < V; r++) {
    for (let i = 0; i < Dt; i++) {
      const wi = w[r * Dt + i];
      if (wi !== 0) for (let j = 0; j < Dt; j++) gram[i * Dt + j] += wi * w[r * Dt + j];
    }
  }
  const { vectors } = symmetricEigen(gram, Dt);
  const q = new Float64Array(Dt * ds);
  for (let i = 0; i < Dt; i++) for (let j = 0; j < ds; j++) q[i * ds + j] = vectors[i * Dt + j];
  return q;
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
  const q = teacherHeadBasis(w, V, Dt, ds);
  const out = new Float32Array(V * ds);
  for (let r = 0; r < V; r++) {
    for (let j = 0; j < ds; j++) {
      let s = 0;
      for (let i = 0; i < Dt; i++) s += w[r * Dt + i] * q[i * ds + j];
      out[r * ds + j] = s;
    }
  }
  return out;
}

/**
 * `Qᵀ` `[ds, Dt]` (row-major): a teacher state's coordinates on its head's top `ds` principal directions, the
 * same-position input projection `inputFromTeacher` starts from. Then `teacherHeadRows(…)·(Qᵀh) = W·Q·Qᵀ·h`: through
 * a student whose head is `W·Q`, the teacher's next-token logits on those directions.
 * @example
 * ```ts
 * const qt = teacherInputProjection(Float32Array.from([3, 0, 0, 1, 3, 0]), 3, 2, 1); // the x axis carries the most
 * console.log(Array.from(qt, Math.abs)); // [1, 0]
 * ```
 */
export function teacherInputProjection(w: Float32Array, V: number, Dt: number, ds: number): Float32Array {
  const q = teacherHeadBasis(w, V, Dt, ds); // [Dt, ds]
  const qt = new Float32Array(ds * Dt);
  for (let i = 0; i < Dt; i++) for (let j = 0; j < ds; j++) qt[j * Dt + i] = q[i * ds + j];
  return qt;
}

/**
 * The parameters a contestant starts from the teacher's head: `head` (the named `[V, ds]` head) as
 * {@link teacherHeadRows}, `input` (the named `[ds, Dt]` projection) as {@link teacherInputProjection}; each only
 * when named.
 * @example-skip a fragment: needs the demo's teacher and a contestant's parameters
 * @example `params = { ...params, ...(await teacherStarts(teacher, params, { head: c.headName, input: c.inputProjName })) }`
 */
export async function teacherStarts(teacher: { model: CausalLM; params: Params }, params: Params, names: { head?: string; input?: string }): Promise<Params> {
  const w = teacher.params[teacher.model.roles.lmHead ?? teacher.model.roles.tokenEmbedding];
  const [V, Dt] = w.shape;
  const data = (await w.data()) as Float32Array;
  const out: Params = {};
  if (names.head) {
    const ds = params[names.head].shape[1];
    out[names.head] = tensor(teacherHeadRows(data, V, Dt, ds), [V, ds]);
  }
  if (names.input) {
    const ds = params[names.input].shape[0];
    out[names.input] = tensor(teacherInputProjection(data, V, Dt, ds), [ds, Dt]);
  }
  return out;
}
