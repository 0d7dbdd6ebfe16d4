/**
 * The Node twin of the page: the same recipe module (src/recipe.js) with the same seed, on a Node backend, the
 * teacher read from disk instead of over HTTP. The browser test compares the page's losses and held-out accuracy
 * with it.
 */
import { fileURLToPath } from 'node:url';
import { localFolder } from '@llm-modules/loaders';
import { setBackend, type BackendName } from '@llm-modules/tensor';
// @ts-ignore the recipe is plain JavaScript (the page's module), without declarations
import { composeDemo, demoWorld, heldoutAccuracy, loadTeacher, trainRecipe } from '../src/recipe.js';

const TEACHER = fileURLToPath(new URL('../../knowledge-transfer/teacher/', import.meta.url));

export interface TwinRun {
  backend: string;
  losses: number[];
  right: number;
  total: number;
  /** right answers so far after each group of held-out facts: [done, right] */
  progress: [number, number][];
  accuracy: number;
  samples: string[];
  seconds: { train: number; eval: number };
}

/** Train `steps` steps with `seed` and score the first `heldout` held-out facts, on `backend`. */
export async function nodeTwin(opts: { backend: BackendName; seed: number; steps: number; heldout: number }): Promise<TwinRun> {
  setBackend(opts.backend);
  const world = demoWorld(await loadTeacher(localFolder(TEACHER)), opts.seed);
  const model = composeDemo(world);
  const losses: number[] = [];
  let t0 = performance.now();
  const { params } = await trainRecipe(world, model, { steps: opts.steps, onStep: (e: { loss: number }) => losses.push(e.loss) });
  const train = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const progress: [number, number][] = [];
  const acc = await heldoutAccuracy(world, model, params, { count: opts.heldout, onProgress: (p: { done: number; right: number }) => progress.push([p.done, p.right]) });
  return { backend: opts.backend, losses, right: acc.right, total: acc.total, progress, accuracy: acc.accuracy, samples: acc.samples, seconds: { train, eval: (performance.now() - t0) / 1000 } };
}
