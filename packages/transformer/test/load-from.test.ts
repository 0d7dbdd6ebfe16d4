/**
 * loadPretrainedFrom (the browser entry's loader) over a local HTTP server and over bytes in memory:
 * the same parameters as loadPretrained reads from disk, sharded bf16 included; a missing file is one
 * line naming its URL.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesFolder, httpFolder } from '@llm-modules/loaders';
import { setBackend } from '@llm-modules/tensor';
import { loadPretrained, loadPretrainedFrom } from '../src/node.js';
import { FIXTURES, MODELS, modelDir } from './golden.js';

let server: Server;
let base = '';
beforeAll(async () => {
  setBackend('cpu');
  // serves test/fixtures/models/ on 127.0.0.1 (what a page's fetch of its own files sees)
  server = createServer((req, res) => {
    readFile(join(FIXTURES, decodeURIComponent(new URL(req.url!, 'http://x').pathname)))
      .then((b) => res.end(b))
      .catch(() => ((res.statusCode = 404), res.end()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function sameParams(a: Record<string, { data(): Promise<ArrayLike<number>> }>, b: Record<string, { data(): Promise<ArrayLike<number>> }>) {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const k of Object.keys(a)) expect(Array.from(await a[k].data())).toEqual(Array.from(await b[k].data()));
}

describe('loadPretrainedFrom', () => {
  it.each(MODELS)('%s over HTTP equals loadPretrained from disk', async (name) => {
    const disk = await loadPretrained(modelDir(name));
    const web = await loadPretrainedFrom(httpFolder(`${base}${name}/`));
    expect(web.config).toEqual(disk.config);
    await sameParams(web.params as never, disk.params as never);
  });

  it('reads a map of name → bytes (files picked in a page)', async () => {
    const dir = modelDir('qwen2-untied-bf16-sharded');
    const files = new Map<string, Blob>();
    for (const f of await readdir(dir)) files.set(f, new Blob([await readFile(join(dir, f))]));
    const mem = await loadPretrainedFrom(filesFolder(files, 'picked'));
    await sameParams(mem.params as never, (await loadPretrained(dir)).params as never);
  });

  it('a folder without weights is one line naming the URL', async () => {
    await expect(loadPretrainedFrom(httpFolder(`${base}nowhere/`))).rejects.toThrow(`${base}nowhere/config.json: no such file`);
  });
});
