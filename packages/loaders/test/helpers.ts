import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

/** Path inside test/fixtures. */
export const fixture = (...parts: string[]) => join(fileURLToPath(new URL('./fixtures/', import.meta.url)), ...parts);

const made: string[] = [];
/** A fresh temp folder, removed after each test. */
export async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'llm-loaders-'));
  made.push(d);
  return d;
}
afterEach(async () => {
  while (made.length) await rm(made.pop()!, { recursive: true, force: true });
});

/**
 * Hand-assemble safetensors bytes (independent of the package's writer): 8-byte LE header length, header text,
 * data. `headerLength` overrides the stored length to build lying files.
 */
export function rawSafetensors(header: object | string, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = Buffer.from(text, 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

export const f32bytes = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);
