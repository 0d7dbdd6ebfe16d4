/** `localFolder`: a FileFolder over a folder on disk (Node entry). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LoaderError, describeFsError } from '../errors.js';
import type { FileFolder } from './folder.js';

/**
 * A folder on disk as a FileFolder (what the path loaders use, so both entries share one code path).
 * @example
 * ```ts
 * const folder = localFolder('packages/loaders');
 * (await folder.read('package.json'))!.length > 0; // true
 * await folder.read('no-such-file'); // undefined
 * ```
 */
export function localFolder(dir: string): FileFolder {
  return {
    label: dir,
    path: (name) => join(dir, name),
    async read(name) {
      try {
        return new Uint8Array(await readFile(join(dir, name)));
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return undefined;
        throw new LoaderError(join(dir, name), `cannot read: ${describeFsError(err)}`, { cause: err });
      }
    },
  };
}
