/**
 * Merge finished shards into the teacher cache `train` reads, after `checkTeacherShards` has checked them all.
 */
import { readdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { mergeTeacherShards, type CacheFingerprint } from '@llm-modules/trainer';
import { CliError } from '../io.js';

/**
 * What a folder holds: 'missing', 'empty', 'cache' (only cache files) or 'other'.
 * @example `await folderState('runs/cache') // 'cache'`
 */
export async function folderState(dir: string): Promise<'missing' | 'empty' | 'cache' | 'other'> {
  const info = await stat(dir).catch(() => null);
  if (!info) return 'missing';
  if (!info.isDirectory()) return 'other';
  const files = await readdir(dir);
  if (files.length === 0) return 'empty';
  return files.every((f) => f === 'index.msgpack' || f.startsWith('chunk-') || f.includes('.tmp')) ? 'cache' : 'other';
}

/**
 * Check the shards in `from` and write the cache into `out` (new, empty, or an earlier cache, which is replaced
 * only once the new one is whole). Any problem: one `TeacherCacheError` line naming the file, `out` untouched.
 * @example `const { rows } = await mergeShardsInto('shards', 'cache')`
 */
export async function mergeShardsInto(from: string, out: string, expected?: CacheFingerprint, shards?: number) {
  if (resolve(from) === resolve(out)) throw new CliError(`${out}: --out must be another folder than the shards' (${from})`);
  if ((await folderState(out)) === 'other') throw new CliError(`${out}: --out exists and holds files that are not a teacher cache; pick a new or empty folder`);
  return mergeTeacherShards(from, out, expected, shards);
}
