/**
 * The teacher-state cache computed in shards: shard I of N runs a deterministic slice of the cache's batches and
 * writes `shard-IIIII-of-NNNNN.f16` (raw float16 states, row after row) plus a JSON manifest, each by temp file and
 * rename, the manifest last. Rows are independent, so any number of machines can run shards; `mergeTeacherShards`
 * checks them all and writes the same cache `writeTeacherCache` writes in one process, byte for byte.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '@llm-modules/loaders';
import { assembleTeacherCache, cacheBatchPlan, teacherStatesOf, TeacherCacheError, type CacheFingerprint, type ComputeStatesOptions } from './teacher-cache.js';

const FORMAT = 'llm-modules-teacher-shard';

/** What a finished shard says about itself (the `.json` beside its `.f16` file). */
export interface ShardManifest {
  format: string;
  version: 1;
  shard: number;
  shards: number;
  /** `[from, to)` rows of the cache order this shard holds */
  rows: [number, number];
  totalRows: number;
  tokens: number;
  hiddenSize: number;
  /** teacher layers stored (-1: the last hidden state) */
  layers: number[];
  batchSize: number;
  chunkSize: number;
  fingerprint: CacheFingerprint;
  /** tokens of each row, in order */
  lengths: number[];
  file: string;
  bytes: number;
  /** sha256 of the `.f16` file */
  sha256: string;
}

/**
 * The file stem of shard `shard` (0-based) of `shards`.
 * @example `shardName(2, 10) // 'shard-00002-of-00010'`
 */
export const shardName = (shard: number, shards: number): string => `shard-${String(shard).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}`;

/**
 * The rows `[from, to)` of shard `shard` of `shards`: a contiguous run of whole batches of `cacheBatchPlan`, the
 * batches split as evenly as counts allow (a shard may be empty when there are fewer batches than shards).
 * @example `shardRows(3, 1, 10, 3, 4) // [3, 7]` (batches [0,3) | [3,4) [4,7) | [7,8) [8,10))
 */
export function shardRows(shards: number, shard: number, examples: number, batchSize = 8, chunkSize = 256): [number, number] {
  const plan = cacheBatchPlan(examples, batchSize, chunkSize);
  const b0 = Math.floor((shard * plan.length) / shards);
  const b1 = Math.floor(((shard + 1) * plan.length) / shards);
  return b0 === b1 ? [plan[b0]?.[0] ?? examples, plan[b0]?.[0] ?? examples] : [plan[b0][0], plan[b1 - 1][1]];
}

const sha256File = (path: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });

async function readManifest(path: string): Promise<ShardManifest | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const m = JSON.parse(text) as ShardManifest;
    return m?.format === FORMAT ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the shard's `.f16` file is whole and is what its manifest says (size, then content hash). */
async function checkStates(dir: string, m: ShardManifest): Promise<string | undefined> {
  const path = join(dir, m.file);
  const size = (await stat(path).catch(() => null))?.size;
  if (size === undefined) return `${path}: missing (its manifest ${shardName(m.shard, m.shards)}.json names it)`;
  if (size !== m.bytes) return `${path}: truncated or overlong (${size} bytes, its manifest says ${m.bytes})`;
  if ((await sha256File(path)) !== m.sha256) return `${path}: content hash differs from its manifest (corrupt file)`;
  return undefined;
}

/**
 * Whether shard `shard` of `shards` is whole in `dir` for `fingerprint`: its manifest is there and agrees, its file
 * has the size and content hash the manifest says.
 * @example-skip reads a shards folder
 * @example `if (!(await shardIsWhole('shards', 3, 10, fp))) enqueue(3)`
 */
export async function shardIsWhole(dir: string, shard: number, shards: number, fingerprint: CacheFingerprint): Promise<boolean> {
  const m = await readManifest(join(dir, `${shardName(shard, shards)}.json`));
  return !!m && m.shard === shard && m.shards === shards && JSON.stringify(m.fingerprint) === JSON.stringify(fingerprint) && !(await checkStates(dir, m));
}

export interface WriteShardOptions extends ComputeStatesOptions {
  shard: number;
  shards: number;
  fingerprint: CacheFingerprint;
  batchSize?: number;
  chunkSize?: number;
  /** after each batch: rows and tokens of this shard done so far */
  onProgress?: (rows: number, totalRows: number, tokens: number) => void | Promise<void>;
  /** after the states file, and after the manifest, is in place (fault-injection tests stop the process here) */
  onStage?: (stage: 'states-written' | 'manifest-written') => void | Promise<void>;
}

/**
 * Compute shard `shard` of `shards` into `dir` — or, when a whole shard with the same fingerprint and plan is
 * there already (a retried job), keep it (`reused: true`) without running the teacher.
 * @example-skip a fragment: `opts` comes from the caller's code
 * @example `const { manifest, reused } = await writeTeacherShard('shards', { ...opts, shard: 2, shards: 10, fingerprint })`
 */
export async function writeTeacherShard(dir: string, opts: WriteShardOptions): Promise<{ manifest: ShardManifest; reused: boolean }> {
  const { shard, shards, fingerprint, examples, hiddenSize, batchSize = 8, chunkSize = 256 } = opts;
  const name = shardName(shard, shards);
  const rows = shardRows(shards, shard, examples.length, batchSize, chunkSize);
  const old = await readManifest(join(dir, `${name}.json`));
  const same = old && JSON.stringify([old.fingerprint, old.rows, old.totalRows, old.hiddenSize, old.batchSize, old.chunkSize]) === JSON.stringify([fingerprint, rows, examples.length, hiddenSize, batchSize, chunkSize]);
  if (old && same && !(await checkStates(dir, old))) return { manifest: old, reused: true };
  await mkdir(dir, { recursive: true });
  const plan = cacheBatchPlan(examples.length, batchSize, chunkSize).filter(([a, b]) => a >= rows[0] && b <= rows[1]);
  const lengths: number[] = [];
  const h = createHash('sha256');
  let bytes = 0;
  await rm(join(dir, `${name}.json`), { force: true }); // a stale manifest must not outlive the file it describes
  await writeFileAtomic(join(dir, `${name}.f16`), async (fh) => {
    for await (const { states } of teacherStatesOf(plan, opts, join(dir, name))) {
      for (const s of states) {
        const b = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
        await fh.write(b);
        h.update(b);
        bytes += b.byteLength;
        lengths.push(s.length / hiddenSize);
      }
      await opts.onProgress?.(lengths.length, rows[1] - rows[0], bytes / 2 / hiddenSize);
    }
  });
  await opts.onStage?.('states-written');
  const manifest: ShardManifest = {
    format: FORMAT, version: 1, shard, shards, rows, totalRows: examples.length, tokens: bytes / 2 / hiddenSize, hiddenSize, layers: [-1],
    batchSize, chunkSize, fingerprint, lengths, file: `${name}.f16`, bytes, sha256: h.digest('hex'),
  };
  await writeFileAtomic(join(dir, `${name}.json`), async (fh) => void (await fh.write(`${JSON.stringify(manifest, null, 1)}\n`)));
  await opts.onStage?.('manifest-written');
  return { manifest, reused: false };
}

/**
 * The finished shards in `dir`, checked against each other (and `expected`, when given): every index present
 * once, one teacher, one data set, one plan, every file whole (only the `shards`-way split's files, when given). Throws `TeacherCacheError` naming the first
 * problem; otherwise the manifests in shard order.
 * @example-skip reads a shards folder
 * @example `const manifests = await checkTeacherShards('shards')`
 */
export async function checkTeacherShards(dir: string, expected?: CacheFingerprint, shards?: number): Promise<ShardManifest[]> {
  // with `shards` known (the enqueuer's run), manifests of another shard count in the folder (an earlier run) are not this run's
  const ours = shards === undefined ? /^shard-\d+-of-\d+\.json$/ : new RegExp(`^shard-\\d+-of-${String(shards).padStart(5, '0')}\\.json$`);
  const files = (await readdir(dir).catch(() => { throw new TeacherCacheError(dir, 'no such shard folder'); })).filter((f) => ours.test(f)).sort();
  if (files.length === 0) throw new TeacherCacheError(dir, 'no shard manifests (shard-*-of-*.json); run cache-teacher --shard I/N first');
  const manifests = new Map<string, ShardManifest>();
  for (const f of files) {
    const m = await readManifest(join(dir, f));
    if (!m) throw new TeacherCacheError(join(dir, f), 'not a shard manifest (unreadable JSON or another format)');
    manifests.set(f, m);
  }
  const all = [...manifests.values()];
  const common = <T>(key: (m: ShardManifest) => T): string => {
    const counts = new Map<string, number>();
    for (const m of all) counts.set(JSON.stringify(key(m)), (counts.get(JSON.stringify(key(m))) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0][0];
  };
  const want = {
    teacher: expected ? JSON.stringify(expected.teacher) : common((m) => m.fingerprint.teacher),
    data: expected ? JSON.stringify(expected.data) : common((m) => m.fingerprint.data),
    settings: expected ? JSON.stringify(expected.settings) : common((m) => m.fingerprint.settings),
    plan: common((m) => [m.shards, m.totalRows, m.hiddenSize, m.batchSize, m.chunkSize, m.layers]),
  };
  const byIndex = new Map<number, string>();
  for (const [f, m] of manifests) {
    const path = join(dir, f);
    if (JSON.stringify(m.fingerprint.teacher) !== want.teacher) throw new TeacherCacheError(path, `made from another teacher (fingerprint ${m.fingerprint.teacher}, the others ${JSON.parse(want.teacher)})`);
    if (JSON.stringify(m.fingerprint.data) !== want.data) throw new TeacherCacheError(path, `made from other data (fingerprint ${m.fingerprint.data}, the others ${JSON.parse(want.data)})`);
    if (JSON.stringify(m.fingerprint.settings) !== want.settings) throw new TeacherCacheError(path, 'made with other cache settings');
    if (JSON.stringify([m.shards, m.totalRows, m.hiddenSize, m.batchSize, m.chunkSize, m.layers]) !== want.plan) throw new TeacherCacheError(path, `made for another plan (${m.shards} shards, ${m.totalRows} rows, batch size ${m.batchSize}; the others ${want.plan})`);
    if (f !== `${shardName(m.shard, m.shards)}.json`) throw new TeacherCacheError(path, `holds shard ${m.shard}/${m.shards}, not the one its name says (a copied file?)`);
    if (byIndex.has(m.shard)) throw new TeacherCacheError(path, `duplicates shard ${m.shard}/${m.shards} (${byIndex.get(m.shard)})`);
    byIndex.set(m.shard, f);
    const rows = shardRows(m.shards, m.shard, m.totalRows, m.batchSize, m.chunkSize);
    const tokens = m.lengths.reduce((s, n) => s + n, 0);
    if (m.rows[0] !== rows[0] || m.rows[1] !== rows[1] || m.lengths.length !== rows[1] - rows[0] || tokens !== m.tokens || m.bytes !== tokens * m.hiddenSize * 2) {
      throw new TeacherCacheError(path, `rows ${m.rows.join('–')} / ${m.lengths.length} lengths / ${m.bytes} bytes do not match shard ${m.shard}/${m.shards} of ${m.totalRows} rows`);
    }
  }
  const count = all[0].shards;
  for (let i = 0; i < count; i++) {
    if (!byIndex.has(i)) throw new TeacherCacheError(join(dir, `${shardName(i, count)}.json`), `shard ${i}/${count} is missing (not finished); run cache-teacher --shard ${i}/${count}`);
  }
  const ordered = [...Array(count).keys()].map((i) => manifests.get(byIndex.get(i)!)!);
  for (const m of ordered) {
    const bad = await checkStates(dir, m);
    if (bad) throw new TeacherCacheError(join(dir, `${shardName(m.shard, m.shards)}.json`), bad);
  }
  return ordered;
}

/**
 * Check every shard in `shardDir` (see `checkTeacherShards`) and write the cache `train` reads into `out` —
 * built in a temp folder beside it and renamed into place, so a failure leaves `out` as it was.
 * @example-skip reads shard folders and writes a cache folder
 * @example `const { rows, tokens } = await mergeTeacherShards('shards', 'cache')`
 */
export async function mergeTeacherShards(shardDir: string, out: string, expected?: CacheFingerprint, shards?: number): Promise<{ rows: number; tokens: number; shards: number; hiddenSize: number; fingerprint: CacheFingerprint }> {
  const manifests = await checkTeacherShards(shardDir, expected, shards);
  const { hiddenSize, chunkSize, fingerprint } = manifests[0];
  async function* states(): AsyncGenerator<Uint8Array> {
    for (const m of manifests) {
      const fh = await open(join(shardDir, m.file), 'r');
      try {
        let at = 0;
        for (const len of m.lengths) {
          const buf = new Uint8Array(len * hiddenSize * 2);
          const { bytesRead } = await fh.read(buf, 0, buf.length, at);
          if (bytesRead !== buf.length) throw new TeacherCacheError(join(shardDir, m.file), 'truncated while merging');
          at += buf.length;
          yield buf;
        }
      } finally {
        await fh.close();
      }
    }
  }
  const tmp = join(dirname(out), `.${basename(out)}.merge-${process.pid}-${Date.now()}`);
  try {
    await assembleTeacherCache(tmp, { fingerprint, hiddenSize, chunkSize, states: states() });
    await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { rows: manifests[0].totalRows, tokens: manifests.reduce((s, m) => s + m.tokens, 0), shards: manifests.length, hiddenSize, fingerprint };
}
