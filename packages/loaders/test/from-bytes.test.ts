/** The browser entry's loaders (bytes, Blobs, Responses) agree with the path loaders and fail in one line. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { filesFolder, loadConfigFrom, loadSafetensorsFrom, loadTokenizer, loadTokenizerFrom, readBytes } from '../src/node.js';

const TOKENIZERS = fileURLToPath(new URL('./fixtures/tokenizers/', import.meta.url));

async function folderBytes(dir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const f of await readdir(dir, { withFileTypes: true })) if (f.isFile()) out.set(f.name, new Uint8Array(await readFile(join(dir, f.name))));
  return out;
}

describe('loadTokenizerFrom', () => {
  it.each(['gpt2', 'qwen2'])('%s from bytes encodes, decodes and renders chats as loadTokenizer does', async (name) => {
    const dir = join(TOKENIZERS, name);
    const disk = await loadTokenizer(dir);
    const mem = await loadTokenizerFrom(filesFolder(await folderBytes(dir), name));
    const text = 'Hello world! <|endoftext|> 12 naïve';
    expect(mem.encode(text)).toEqual(disk.encode(text));
    expect(mem.decode(disk.encode(text))).toBe(disk.decode(disk.encode(text)));
    expect(mem.vocabSize).toBe(disk.vocabSize);
    expect(mem.chatTemplate).toBe(disk.chatTemplate);
  });

  it('an empty folder is one line naming the label', async () => {
    await expect(loadTokenizerFrom({})).rejects.toThrow(/^<files>: no tokenizer\.json/);
  });
});

describe('readBytes and the other loaders', () => {
  it('a failed Response is one line with its status', async () => {
    await expect(readBytes(new Response('gone', { status: 404, statusText: 'Not Found' }), '/m/model.safetensors')).rejects.toThrow('/m/model.safetensors: HTTP 404 Not Found');
  });

  it('accepts Blobs, ArrayBuffers and text', async () => {
    expect(Array.from(await readBytes(new Blob(['ab'])))).toEqual([97, 98]);
    expect(Array.from(await readBytes(new Uint8Array([1, 2]).buffer))).toEqual([1, 2]);
    expect(Array.from(await readBytes('ab'))).toEqual([97, 98]);
  });

  it('config.json that is not JSON, and a folder without weights, name the file', async () => {
    await expect(loadConfigFrom({ 'config.json': '{' })).rejects.toThrow(/^<files>\/config\.json: not valid JSON/);
    await expect(loadSafetensorsFrom(filesFolder({}, 'tiny'))).rejects.toThrow('tiny: no model.safetensors or model.safetensors.index.json');
  });
});
