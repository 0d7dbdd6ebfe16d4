/**
 * A folder of files without a file system: what the browser-safe loaders read a model, tokenizer or
 * bridge from. A `FileFolder` is a name → bytes lookup; `filesFolder` wraps bytes the caller already has
 * (a `Map`/object of `Uint8Array`, `ArrayBuffer`, `Blob`/`File`, `Response` or text), `httpFolder` fetches
 * names relative to a URL (the page's own files). The Node entry adds `localFolder(dir)`.
 */
import { LoaderError } from '../errors.js';

/** Bytes in any of the shapes a page has them: fetched, picked in a file input, or built in memory. */
export type ByteInput = Uint8Array | ArrayBuffer | Blob | Response | string;

/** Files by name (`"config.json"`, `"model.safetensors"`…). */
export type FileMap = ReadonlyMap<string, ByteInput> | Readonly<Record<string, ByteInput>>;

/** Files looked up by name; `read` resolves to undefined for a file the folder does not have. */
export interface FileFolder {
  /** How errors name the folder (a path, a URL, or a label). */
  readonly label: string;
  /** How errors name one file of the folder. */
  path(name: string): string;
  read(name: string): Promise<Uint8Array | undefined>;
}

const isResponse = (x: unknown): x is Response => typeof Response !== 'undefined' && x instanceof Response;
const isBlob = (x: unknown): x is Blob => typeof Blob !== 'undefined' && x instanceof Blob;

/**
 * The bytes of `input`. A `Response` must be ok (`label: HTTP 404 Not Found` otherwise); a string is UTF-8.
 * @example
 * ```ts
 * const bytes = await readBytes(new Response('{"a":1}'), 'a.json');
 * bytes.length; // 7
 * ```
 */
export async function readBytes(input: ByteInput, label = '<bytes>'): Promise<Uint8Array> {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (typeof input === 'string') return new TextEncoder().encode(input);
  if (isResponse(input)) {
    if (!input.ok) throw new LoaderError(label, `HTTP ${input.status} ${input.statusText}`.trim());
    return new Uint8Array(await input.arrayBuffer());
  }
  if (isBlob(input)) return new Uint8Array(await input.arrayBuffer());
  throw new LoaderError(label, 'expected bytes: a Uint8Array, ArrayBuffer, Blob/File, Response or string');
}

/**
 * A folder over files the caller already holds. Each entry is read (a Response consumed) on first use.
 * @example
 * ```ts
 * const folder = filesFolder({ 'config.json': '{"model_type":"gpt_neo"}' }, 'demo');
 * (await folder.read('config.json'))!.length; // 24
 * await folder.read('missing.json'); // undefined
 * ```
 */
export function filesFolder(files: FileMap, label = '<files>'): FileFolder {
  const entries = files instanceof Map ? (files as ReadonlyMap<string, ByteInput>) : new Map(Object.entries(files as Record<string, ByteInput>));
  const cache = new Map<string, Promise<Uint8Array>>();
  const path = (name: string) => `${label}/${name}`;
  return {
    label,
    path,
    read(name) {
      const input = entries.get(name);
      if (input === undefined) return Promise.resolve(undefined);
      let p = cache.get(name);
      if (!p) cache.set(name, (p = readBytes(input, path(name))));
      return p;
    },
  };
}

/**
 * A folder of files served over HTTP under `base` (absolute, or relative to the page). A 404 means the
 * file is absent; any other failed response is an error naming the URL.
 * @example-skip fetches over the network (the browser example serves its files to itself)
 * @example `const tokenizer = await loadTokenizerFrom(httpFolder('/demo/teacher/'))`
 */
export function httpFolder(base: string | URL, fetchFn: typeof fetch = (...a) => fetch(...a)): FileFolder {
  const root = new URL(String(base).endsWith('/') ? String(base) : `${base}/`, (globalThis as { location?: { href: string } }).location?.href);
  const path = (name: string) => new URL(name, root).href;
  return {
    label: root.href,
    path,
    async read(name) {
      let res: Response;
      try {
        res = await fetchFn(path(name));
      } catch (err) {
        throw new LoaderError(path(name), `cannot fetch: ${(err as Error).message}`, { cause: err });
      }
      if (res.status === 404) return undefined;
      return readBytes(res, path(name));
    },
  };
}

/** A text file of the folder (UTF-8), or undefined when absent. */
export async function readText(folder: FileFolder, name: string): Promise<string | undefined> {
  const bytes = await folder.read(name);
  return bytes === undefined ? undefined : new TextDecoder().decode(bytes);
}

/** A JSON file of the folder, parsed; undefined when absent; `fail(file, problem)` when not valid JSON. */
export async function readJson(folder: FileFolder, name: string, fail: (file: string, problem: string) => Error): Promise<unknown> {
  const text = await readText(folder, name);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw fail(folder.path(name), `not valid JSON (${(err as Error).message})`);
  }
}

/**
 * `source` as a FileFolder: a folder as is, a map of files wrapped by `filesFolder`.
 * @example
 * ```ts
 * asFolder({ 'a.txt': 'hi' }, 'demo').path('a.txt'); // 'demo/a.txt'
 * ```
 */
export function asFolder(source: FileFolder | FileMap, label?: string): FileFolder {
  const f = source as FileFolder;
  return typeof f.read === 'function' && typeof f.path === 'function' ? f : filesFolder(source as FileMap, label);
}
