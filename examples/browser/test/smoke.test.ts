/**
 * Smoke test of the browser example in Debian's headless Chromium (playwright-core drives it; no browser is
 * downloaded): the page loads the demo world over HTTP in its Web Worker, trains a few steps with a finite
 * loss readout, and answers a prompt. Skipped without /usr/bin/chromium (`apt-get install chromium`) or
 * without built packages (`pnpm build`): the page imports their browser builds.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('../', import.meta.url));
const built = ['tensor/dist/browser.js', 'loaders/dist/index.js', 'transformer/dist/index.js', 'bridge/dist/index.js', 'trainer/dist/index.js'].every((f) => existsSync(`${ROOT}packages/${f}`));
const why = !existsSync(CHROMIUM) ? `no ${CHROMIUM}` : !built ? 'packages not built' : null;

type Event = { type: string; [k: string]: unknown };

describe.skipIf(why !== null)(`the browser example in headless Chromium${why ? ` (skipped: ${why})` : ''}`, () => {
  let server: { close(): Promise<void>; resolvedUrls: { local: string[] } | null };
  let browser: { close(): Promise<void>; newPage(): Promise<any> };
  let page: any;
  const events = () => page.evaluate(() => (window as unknown as { __events?: Event[] }).__events ?? []) as Promise<Event[]>;
  const waitFor = (type: string, timeout: number) =>
    page.waitForFunction((t: string) => ((window as unknown as { __events?: Event[] }).__events ?? []).some((e) => e.type === t || e.type === 'error'), type, { timeout });

  beforeAll(async () => {
    const { createServer } = await import('vite');
    const s = await createServer({ root: HERE, configFile: `${HERE}vite.config.js`, logLevel: 'error', server: { port: 0, strictPort: false } });
    server = (await s.listen()) as never;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads the teacher over HTTP, trains 3 steps with a loss readout, answers a prompt', async () => {
    const url = server.resolvedUrls!.local[0];
    const console: string[] = [];
    page.on('console', (m: { text(): string }) => console.push(m.text()));
    page.on('pageerror', (e: Error) => console.push(String(e)));
    await page.goto(url);
    await waitFor('ready', 240_000);
    const ready = (await events()).find((e) => e.type === 'ready' || e.type === 'error')!;
    expect(ready, `${JSON.stringify(ready)}\n${console.join('\n')}`).toMatchObject({ type: 'ready', isolated: true });
    await page.fill('#steps', '3');
    await page.click('#train');
    await waitFor('trained', 300_000);
    const steps = (await events()).filter((e) => e.type === 'step');
    expect((await events()).find((e) => e.type === 'error')).toBeUndefined();
    expect(steps.map((e) => e.step)).toEqual([1, 2, 3]);
    for (const e of steps) expect(Number.isFinite(e.loss as number) && (e.loss as number) > 0).toBe(true);
    await page.fill('#prompt', '5+7=');
    await page.click('#ask');
    await waitFor('answer', 120_000);
    const answer = (await events()).find((e) => e.type === 'answer' || e.type === 'error')!;
    expect(answer).toMatchObject({ type: 'answer', prompt: '5+7=' });
    expect(typeof answer.text).toBe('string');
    // the threads backend's pool: Web Workers started from a Blob URL (one per extra core)
    if (ready.backend === 'threads' && (await page.evaluate(() => navigator.hardwareConcurrency)) > 1) {
      expect(page.workers().some((w: { url(): string }) => w.url().startsWith('blob:'))).toBe(true);
    }
    // one line of evidence: backend, isolation, losses, answer
    process.stderr.write(`browser smoke: ${JSON.stringify({ workers: page.workers().map((w: { url(): string }) => w.url().slice(0, 40)), ready, losses: steps.map((e) => e.loss), answer: answer.text })}\n`);
  }, 600_000);
});
