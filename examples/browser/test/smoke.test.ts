/**
 * Smoke test of the browser example in Debian's headless Chromium (playwright-core drives it; no browser is
 * downloaded): the page loads the demo world over HTTP in its Web Worker, trains a few steps with a finite
 * loss readout, and answers a prompt — on the default backend, and on `webgpu` where this Chromium has it
 * (`--enable-unsafe-webgpu`; skipped, naming the working backends, where it has not). Skipped without
 * /usr/bin/chromium (`apt-get install chromium`) or without built packages (`pnpm build`): the page imports
 * their browser builds.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('../', import.meta.url));
const built = ['tensor/dist/browser.js', 'loaders/dist/index.js', 'transformer/dist/index.js', 'bridge/dist/index.js', 'trainer/dist/index.js'].every((f) => existsSync(`${ROOT}packages/${f}`));
const why = !existsSync(CHROMIUM) ? `no ${CHROMIUM}` : !built ? 'packages not built' : null;

type Event = { type: string; [k: string]: unknown };
type Page = any;

describe.skipIf(why !== null)(`the browser example in headless Chromium${why ? ` (skipped: ${why})` : ''}`, () => {
  let server: { close(): Promise<void>; resolvedUrls: { local: string[] } | null };
  const browsers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    const { createServer } = await import('vite');
    const s = await createServer({ root: HERE, configFile: `${HERE}vite.config.js`, logLevel: 'error', server: { port: 0, strictPort: false } });
    server = (await s.listen()) as never;
  }, 120_000);
  afterAll(async () => {
    for (const b of browsers) await b.close();
    await server?.close();
  });

  /** A page of the example in a fresh Chromium with `extra` flags; its events and a wait for one of them. */
  async function open(extra: string[], query = '') {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...FLAGS, ...extra] });
    browsers.push(browser);
    const page: Page = await browser.newPage();
    const log: string[] = [];
    page.on('console', (m: { text(): string }) => log.push(m.text()));
    page.on('pageerror', (e: Error) => log.push(String(e)));
    await page.goto(`${server.resolvedUrls!.local[0]}${query}`);
    const events = () => page.evaluate(() => (window as unknown as { __events?: Event[] }).__events ?? []) as Promise<Event[]>;
    /** The first event of `type` (or an error event), waiting up to `timeout` ms. */
    const next = async (type: string, timeout: number) => {
      await page.waitForFunction((t: string) => ((window as unknown as { __events?: Event[] }).__events ?? []).some((e) => e.type === t || e.type === 'error'), type, { timeout });
      return (await events()).find((e) => e.type === type || e.type === 'error')!;
    };
    return { page, events, next, log };
  }

  /** Train `n` steps and answer a prompt; the losses and the answer. */
  async function trainAndAnswer({ page, events, next }: Awaited<ReturnType<typeof open>>, n = 3) {
    await page.fill('#steps', String(n));
    await page.click('#train');
    expect(await next('trained', 300_000)).toMatchObject({ type: 'trained', steps: n });
    const steps = (await events()).filter((e) => e.type === 'step');
    expect(steps.map((e) => e.step)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const e of steps) expect(Number.isFinite(e.loss as number) && (e.loss as number) > 0).toBe(true);
    await page.fill('#prompt', '5+7=');
    await page.click('#ask');
    const answer = await next('answer', 120_000);
    expect(answer).toMatchObject({ type: 'answer', prompt: '5+7=' });
    expect(typeof answer.text).toBe('string');
    await page.click('#save');
    const files = await next('files', 120_000);
    expect((files.files as [string, ArrayBuffer][]).map(([n]) => n)).toEqual(['bridge_config.json', 'bridge.safetensors']);
    expect(await page.locator('#files a').count()).toBe(2);
    return { losses: steps.map((e) => e.loss), answer: answer.text };
  }

  it('loads the teacher over HTTP, trains 3 steps with a loss readout, answers a prompt (default backend)', async () => {
    const p = await open([]);
    const ready = await p.next('ready', 240_000);
    expect(ready, `${JSON.stringify(ready)}\n${p.log.join('\n')}`).toMatchObject({ type: 'ready', isolated: true });
    const run = await trainAndAnswer(p);
    // the threads backend's pool: Web Workers started from a Blob URL (one per extra core)
    const workers = p.page.workers().map((w: { url(): string }) => w.url());
    if (ready.backend === 'threads' && (await p.page.evaluate(() => navigator.hardwareConcurrency)) > 1) expect(workers.some((u: string) => u.startsWith('blob:'))).toBe(true);
    process.stderr.write(`browser smoke: ${JSON.stringify({ backend: ready.backend, available: ready.available, workers: workers.length, ...run })}\n`);
  }, 600_000);

  it('trains on webgpu where Chromium has it (--enable-unsafe-webgpu)', async (ctx) => {
    const p = await open(['--enable-unsafe-webgpu'], '?backend=webgpu');
    const ready = await p.next('ready', 240_000);
    if (ready.type === 'error' && /does not work here/.test(String(ready.message))) {
      process.stderr.write(`browser smoke webgpu: skipped, ${ready.message}\n`);
      ctx.skip();
    }
    expect(ready, `${JSON.stringify(ready)}\n${p.log.join('\n')}`).toMatchObject({ type: 'ready', backend: 'webgpu' });
    const t0 = performance.now();
    process.stderr.write(`browser smoke webgpu: ${JSON.stringify({ ...(await trainAndAnswer(p, 1)), seconds: (performance.now() - t0) / 1000 })}\n`);
  }, 600_000);
});
