/**
 * The browser example in Debian's headless Chromium (playwright-core drives /usr/bin/chromium, started with
 * --enable-unsafe-webgpu; nothing is downloaded), served by Vite on a free localhost port, against its Node twin:
 * the same recipe module (src/recipe.js) with the same seed, run in this process on the CPU backend (test/twin.ts).
 *
 * - WebAssembly (the page's own pick: Chromium here has only software GPUs): the page trains STEPS steps (falling loss: the last K losses' mean below the
 *   first K's), scores the first HELDOUT held-out facts, and must equal the twin exactly: every loss bit for bit,
 *   the same right answers after each group, the same generations (one WebAssembly module; Node's V8 and
 *   Chromium's run the same arithmetic). Then the Stop button (the model so far answers), and the bridge folder
 *   downloaded and loaded back (the same answer, the same accuracy).
 * - WebGPU (`?backend=webgpu`, Chromium's SwiftShader adapter): GPU_STEPS steps (seconds each there), every loss
 *   within LOSS_RTOL of the twin's (the same float32 arithmetic in another order), falling; a typed answer; then
 *   the WebAssembly page's STEPS-step bridge loaded into this page scores GPU_HELDOUT held-out facts, within one
 *   fact of the twin's first GPU_HELDOUT (greedy argmax flips only where two logits tie within float noise).
 * Screenshots go to $LLM_MODULES_ARTIFACTS (default: a temp folder; the path is printed) and are decoded and
 * checked to be drawn (colours, contrast, the loss curve's red). Skipped without /usr/bin/chromium or built
 * packages, unless LLM_MODULES_REQUIRE_BROWSER=1 makes that a failure (as does a missing WebGPU then).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shutdownThreads } from '@llm-modules/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng, imageStats, pixel } from './png.js';
import { nodeTwin, type TwinRun } from './twin.js';

const [STEPS, HELDOUT, K] = [100, 64, 10];
const [GPU_STEPS, GPU_K, GPU_HELDOUT] = [4, 2, 16];
/** float32 sums in another order (WGSL kernels vs WebAssembly): measured ≤ 2e-5 relative over these steps */
const LOSS_RTOL = 1e-3;
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps', '--no-first-run', '--metrics-recording-only'];
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('../', import.meta.url));
const BUILT = ['tensor/dist/browser.js', 'loaders/dist/index.js', 'transformer/dist/index.js', 'bridge/dist/index.js', 'trainer/dist/index.js', 'cli/dist/demo-world.js'];
const missing = BUILT.filter((f) => !existsSync(`${ROOT}packages/${f}`));
const why = !existsSync(CHROMIUM) ? `no ${CHROMIUM} (apt-get install chromium)` : missing.length ? `packages not built (pnpm build): no ${missing.join(', ')}` : null;
const REQUIRED = process.env.LLM_MODULES_REQUIRE_BROWSER === '1';
let artifacts = process.env.LLM_MODULES_ARTIFACTS;
const artifactsDir = () => (artifacts ??= mkdtempSync(join(tmpdir(), 'llm-modules-browser-')));
const LOSS_RED: [number, number, number] = [192, 57, 43]; // src/chart.js's stroke

type Ev = { type: string; at: number; [k: string]: any };
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const report = (line: string) => process.stderr.write(`browser: ${line}\n`);

if (why && REQUIRED) it('runs the browser tests (LLM_MODULES_REQUIRE_BROWSER=1)', () => expect.fail(`cannot run: ${why}`));

describe.skipIf(why !== null)(`the browser example in headless Chromium${why ? ` (skipped: ${why})` : ''}`, () => {
  let server: { close(): Promise<void>; resolvedUrls: { local: string[] } | null };
  let browser: import('playwright-core').Browser;
  let twin: TwinRun;
  let gpuTwin: TwinRun;
  let bridge: { name: string; buffer: Buffer }[] = [];
  let answered: { text: string; right: number } | undefined;

  beforeAll(async () => {
    const { createServer } = await import('vite');
    const s = await createServer({ root: HERE, configFile: `${HERE}vite.config.js`, logLevel: 'error', server: { port: 0, strictPort: false } });
    server = (await s.listen()) as never;
    // one Chromium for every page: WebGPU on (SwiftShader; a page asks for its backend with ?backend=)
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    twin = await nodeTwin({ backend: 'threads', seed: 0, steps: STEPS, heldout: HELDOUT });
    gpuTwin = await nodeTwin({ backend: 'threads', seed: 0, steps: GPU_STEPS, heldout: GPU_HELDOUT });
    report(`Node twin (threads): ${STEPS} steps in ${twin.seconds.train.toFixed(1)} s, held-out ${twin.right}/${twin.total}; ${GPU_STEPS} steps: ${gpuTwin.right}/${gpuTwin.total}; screenshots go to ${artifactsDir()}`);
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await shutdownThreads();
  });

  /** The page with `query` in a fresh browser context, its events, and waits for them. */
  async function open(query: string) {
    const page = await (await browser.newContext({ acceptDownloads: true, viewport: { width: 900, height: 1200 } })).newPage();
    const log: string[] = [];
    page.on('console', (m) => log.push(m.text()));
    page.on('pageerror', (e) => log.push(String(e)));
    const opened = Date.now();
    await page.goto(`${server.resolvedUrls!.local[0]}${query}`);
    const events = () => page.evaluate(() => (window as unknown as { __events?: Ev[] }).__events ?? []) as Promise<Ev[]>;
    /** The first event of `type` from index `from` on (an error event fails, with the page's log). */
    const after = async (from: number, type: string, timeout = 240_000): Promise<Ev> => {
      const fn = ([t, n]: [string, number]) => ((window as unknown as { __events?: Ev[] }).__events ?? []).slice(n).some((e) => e.type === t || e.type === 'error');
      await page.waitForFunction(fn, [type, from] as [string, number], { timeout });
      const e = (await events()).slice(from).find((x) => x.type === type || x.type === 'error')!;
      expect(e, `${JSON.stringify(e)}\n${log.join('\n')}`).toMatchObject({ type });
      return e;
    };
    /** Do `action`, then wait for the next event of `type`. */
    const act = async (type: string, action: () => Promise<unknown>): Promise<Ev> => {
      const from = (await events()).length;
      await action();
      return after(from, type);
    };
    const ready = await after(0, 'ready');
    return { page, events, after, act, ready, opened };
  }
  type Page = Awaited<ReturnType<typeof open>>;

  /** Train `steps` (then, with `heldout`, the page scores that many held-out facts by itself); losses, evaluation. */
  async function train(p: Page, steps: number, heldout: number | null) {
    await p.page.fill('#steps', String(steps));
    await p.page.setChecked('#auto-eval', heldout !== null);
    if (heldout !== null) await p.page.fill('#heldout', String(heldout));
    const from = (await p.events()).length;
    await p.page.click('#train');
    const trained = await p.after(from, 'trained');
    const evaluated = heldout === null ? null : await p.after(from, 'evaluated');
    const run = (await p.events()).slice(from);
    const losses = run.filter((e) => e.type === 'step' && e.at <= trained.at).map((e) => e.loss as number);
    const progress = run.filter((e) => e.type === 'progress' && e.done > 0).map((e) => [e.done, e.right]);
    return { trained, evaluated, losses, progress };
  }
  const ask = (p: Page, prompt: string) => p.act('answer', async () => (await p.page.fill('#prompt', prompt), await p.page.click('#ask')));

  /** A full-page screenshot, saved and decoded: drawn (many colours, contrast) with the loss curve visible. */
  async function screenshot(p: Page, name: string) {
    mkdirSync(artifactsDir(), { recursive: true });
    const file = join(artifactsDir(), name);
    writeFileSync(file, await p.page.screenshot({ fullPage: true }));
    const stats = imageStats(decodePng(readFileSync(file)), LOSS_RED);
    report(`screenshot ${file}: ${JSON.stringify(stats)}`);
    expect(stats.colours).toBeGreaterThan(50);
    expect(stats.lumaSd).toBeGreaterThan(10);
    expect(stats.matching).toBeGreaterThan(100);
  }

  it('the PNG check tells a blank page from a drawn one, pixel for pixel', async () => {
    const page = await browser.newPage({ viewport: { width: 64, height: 32 } });
    await page.setContent('<body style="margin:0;background:#fff"></body>');
    expect(imageStats(decodePng(await page.screenshot()))).toEqual({ colours: 1, lumaSd: 0, matching: 0 });
    await page.setContent('<body style="margin:0;display:flex"><div style="width:40px;height:32px;background:rgb(200,30,10)"></div><div style="width:24px;height:32px;background:rgb(0,90,250)"></div></body>');
    const img = decodePng(await page.screenshot());
    expect([img.width, img.height, pixel(img, 5, 5), pixel(img, 50, 20)]).toEqual([64, 32, [200, 30, 10], [0, 90, 250]]);
    expect(imageStats(img).colours).toBe(2);
    await page.close();
  }, 60_000);

  it(`WebAssembly: ${STEPS} steps with falling loss, ${HELDOUT} held-out facts, all equal to the Node twin; stop, download, load back`, async () => {
    // the page's own choice: Chromium without a GPU has only software WebGPU and WebGL2, passed over for WebAssembly
    const p = await open('');
    expect(p.ready).toMatchObject({ backend: 'threads', isolated: true });
    expect(p.ready.chain.map((e: Ev) => e.name)).toEqual(['webgpu', 'webgl2', 'threads']);
    for (const e of p.ready.chain.slice(0, 2)) expect(['unavailable', 'passed over']).toContain(e.status);
    report(`threads chain: ${p.ready.chain.map((e: Ev) => `${e.name} ${e.status}: ${e.why}`).join(' | ')}`);
    const run = await train(p, STEPS, HELDOUT);
    expect(run.trained).toMatchObject({ steps: STEPS, stopped: false });
    expect(mean(run.losses.slice(-K))).toBeLessThan(mean(run.losses.slice(0, K)));
    expect(run.losses).toEqual(twin.losses); // bit for bit
    expect(run.progress).toEqual(twin.progress);
    expect(run.evaluated).toMatchObject({ right: twin.right, total: HELDOUT });
    expect(run.evaluated!.samples).toEqual(twin.samples.slice(0, 4));
    const first = await ask(p, '7+5=');
    report(`threads: ${JSON.stringify({ losses: [run.losses[0], run.losses.at(-1)], firstK: mean(run.losses.slice(0, K)), lastK: mean(run.losses.slice(-K)), right: run.evaluated!.right, total: HELDOUT, node: twin.right, trainSeconds: run.trained.seconds, evalSeconds: run.evaluated!.seconds, answer: first.text, firstAnswerSeconds: (Date.now() - p.opened) / 1000, firstAnswerPageClock: first.at / 1000 })}`);
    answered = { text: first.text, right: run.evaluated!.right };
    await screenshot(p, 'browser-threads.png');

    // the bridge folder: two download links, fetched as a user would
    await p.act('files', () => p.page.click('#save'));
    const links = p.page.locator('#files a');
    expect(await links.count()).toBe(2);
    bridge = [];
    for (let i = 0; i < 2; i++) {
      const [download] = await Promise.all([p.page.waitForEvent('download'), links.nth(i).click()]);
      bridge.push({ name: download.suggestedFilename(), buffer: readFileSync((await download.path())!) });
    }
    expect(bridge.map((f) => f.name)).toEqual(['bridge_config.json', 'bridge.safetensors']);

    // Stop: training ends after the current step and the model so far answers
    await p.page.fill('#steps', '5000');
    await p.page.fill('#heldout', '16');
    await p.page.setChecked('#auto-eval', true);
    const from = (await p.events()).length;
    await p.page.click('#train');
    await p.page.waitForFunction((n) => ((window as any).__events as Ev[]).slice(n).filter((e) => e.type === 'step').length >= 3, from, { timeout: 120_000 });
    await p.page.click('#stop');
    const stopped = await p.after(from, 'trained');
    expect(stopped.stopped).toBe(true);
    expect(stopped.steps).toBeGreaterThanOrEqual(3);
    expect(stopped.steps).toBeLessThan(5000);
    await p.after(from, 'evaluated');
    expect(typeof (await ask(p, '3+4=')).text).toBe('string');

    // the downloaded folder loaded back answers as the trained model did
    const buffers = bridge.map((f) => ({ name: f.name, mimeType: 'application/octet-stream', buffer: f.buffer }));
    expect(await p.act('bridge-loaded', () => p.page.setInputFiles('#bridge-files', buffers))).toMatchObject({ steps: STEPS, seed: 0 });
    expect((await ask(p, '7+5=')).text).toBe(first.text);
    await p.page.fill('#heldout', String(HELDOUT));
    expect(await p.act('evaluated', () => p.page.click('#evaluate'))).toMatchObject({ right: twin.right, total: HELDOUT });
  }, 300_000);

  it(`WebGPU (SwiftShader): ${GPU_STEPS} steps against the Node twin, then the ${STEPS}-step bridge scores ${GPU_HELDOUT} held-out facts`, async (ctx) => {
    const p = await open('?backend=webgpu').catch((err) => {
      if (!REQUIRED && /does not work here/.test(String(err))) ctx.skip();
      throw err;
    });
    expect(p.ready.chain.at(-1)).toMatchObject({ name: 'webgpu', status: 'running' });
    // trained here (a step costs seconds on SwiftShader), answered at once: the scoring is the bridge's below
    const run = await train(p, GPU_STEPS, null);
    const rel = run.losses.map((l, i) => Math.abs(l - gpuTwin.losses[i]) / gpuTwin.losses[i]);
    expect(run.losses).toHaveLength(GPU_STEPS);
    expect(Math.max(...rel)).toBeLessThan(LOSS_RTOL);
    expect(mean(run.losses.slice(-GPU_K))).toBeLessThan(mean(run.losses.slice(0, GPU_K)));
    const first = await ask(p, '7+5=');
    const firstAnswerSeconds = (Date.now() - p.opened) / 1000;

    // the WebAssembly page's bridge (the same seed and steps as the twin), loaded into this page and scored here
    expect(bridge, 'the WebAssembly test must run first (it downloads the bridge folder)').toHaveLength(2);
    await p.act('bridge-loaded', () => p.page.setInputFiles('#bridge-files', bridge.map((f) => ({ name: f.name, mimeType: 'application/octet-stream', buffer: f.buffer }))));
    await p.page.fill('#heldout', String(GPU_HELDOUT));
    const loaded = await p.act('evaluated', () => p.page.click('#evaluate'));
    const nodeRight = twin.progress.find(([done]) => done === GPU_HELDOUT)![1];
    expect(loaded.total).toBe(GPU_HELDOUT);
    expect(Math.abs(loaded.right - nodeRight)).toBeLessThanOrEqual(1);
    const again = await ask(p, '7+5=');
    await screenshot(p, 'browser-webgpu.png');
    report(`webgpu: ${JSON.stringify({ adapter: p.ready.chain.at(-1).why, losses: run.losses, node: gpuTwin.losses, maxRelDiff: Math.max(...rel), firstK: mean(run.losses.slice(0, GPU_K)), lastK: mean(run.losses.slice(-GPU_K)), bridgeRight: loaded.right, bridgeNodeRight: nodeRight, of: GPU_HELDOUT, bridgeSamples: loaded.samples, bridgeAnswer: again.text, wasmAnswer: answered?.text, answer: first.text, trainSeconds: run.trained.seconds, evalSeconds: loaded.seconds, firstAnswerSeconds, firstAnswerPageClock: first.at / 1000 })}`);
  }, 400_000);
});
