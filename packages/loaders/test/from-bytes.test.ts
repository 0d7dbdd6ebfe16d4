/** The browser entry's loaders (bytes, Blobs, Responses) agree with the path loaders and fail in one line. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, filesFolder, loadConfigFrom, loadSafetensorsFrom, loadTokenizer, loadTokenizerFrom, readBytes, writeSafetensors } from '../src/node.js';

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

describe('encodeSafetensors', () => {
  it('gives the bytes writeSafetensors writes (bf16 and int32, names sorted as the Rust library does)', async () => {
    const tensors = {
      'b.w': { dtype: 'float32' as const, shape: [2, 2], data: new Float32Array([1, -2.5, 3, 0.1]) },
      'a.ids': { dtype: 'int32' as const, shape: [3], data: new Int32Array([7, 8, 9]) },
      'é': { dtype: 'float32' as const, shape: [1], data: new Float32Array([4]) },
    };
    const dir = await mkdtemp(join(tmpdir(), 'encode-'));
    try {
      await writeSafetensors(join(dir, 'w.safetensors'), tensors, { dtype: 'BF16', metadata: { note: 'x' } });
      const bytes = await encodeSafetensors(tensors, { dtype: 'BF16', metadata: { note: 'x' } });
      expect(Buffer.from(bytes).equals(await readFile(join(dir, 'w.safetensors')))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

