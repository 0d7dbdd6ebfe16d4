import { describe, expect, test } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '@llm-modules/tensor';
import { cacheBatchPlan, checkTeacherShards, collate, mergeTeacherShards, shardIsWhole, shardRows, writeTeacherCache, writeTeacherShard, type Batch, type CacheFingerprint, type Example } from '@llm-modules/trainer';

const D = 4;
// 11 rows of different lengths, so batches pad differently
const examples: Example[] = Array.from({ length: 11 }, (_, i) => {
  const ids = Array.from({ length: 2 + ((i * 5) % 7) }, (_, t) => (i * 13 + t * 7) % 50);
  return { inputIds: ids, lossMask: ids.map(() => 1) };
});
const fp: CacheFingerprint = { teacher: 't'.repeat(32), data: 'd'.repeat(32), settings: 's'.repeat(32) };
// A stand-in teacher whose states depend on the batch it runs in (its padded length T and its first id), as real
// kernels' rounding may: shards give the single-process bytes only if they run exactly the same batches.
const run = (b: Batch) => {
  const [B, T] = b.inputIds.shape;
  const out = new Float32Array(B * T * D);
  for (let i = 0; i < out.length; i++) out[i] = Math.sin(i * 0.37) + T * 0.001 + B * 0.01;
  return tensor(out, [B, T, D]);
};
const opts = { examples, hiddenSize: D, run, collate: (g: Example[]) => collate(g, 0), batchSize: 3, chunkSize: 4 };
const files = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

describe('teacher-state cache in shards', () => {
  test('the batch plan never crosses a chunk, and shards are whole batches covering every row once', () => {
    expect(cacheBatchPlan(10, 3, 4)).toEqual([[0, 3], [3, 4], [4, 7], [7, 8], [8, 10]]);
    for (const shards of [1, 2, 3, 5, 8]) {
      const covered = Array.from({ length: shards }, (_, i) => shardRows(shards, i, 10, 3, 4));
      expect(covered[0][0]).toBe(0);
      expect(covered.at(-1)![1]).toBe(10);
      for (let i = 1; i < shards; i++) expect(covered[i][0]).toBe(covered[i - 1][1]);
    }
    // 5 batches over 3 shards: batches [0,1) [1,3) [3,5) (⌊i·5/3⌋), so shard 1 holds rows 3..7
    expect(shardRows(3, 1, 10, 3, 4)).toEqual([3, 7]);
  });

  test.each([1, 2, 3, 4, 7])('%i shards merge into the single-process cache, byte for byte', async (shards) => {
    const root = mkdtempSync(join(tmpdir(), 'llm-modules-shards-'));
    await writeTeacherCache(join(root, 'single'), { ...opts, fingerprint: fp });
    for (let i = shards - 1; i >= 0; i--) await writeTeacherShard(join(root, 'shards'), { ...opts, fingerprint: fp, shard: i, shards });
    const merged = await mergeTeacherShards(join(root, 'shards'), join(root, 'merged'), fp);
    expect(merged).toMatchObject({ rows: 11, shards, hiddenSize: D, tokens: examples.reduce((s, e) => s + e.inputIds.length, 0) });
    expect(files(join(root, 'merged'))).toEqual(files(join(root, 'single')));
    expect(Object.keys(files(join(root, 'single')))).toEqual(['chunk-00000.msgpack', 'chunk-00001.msgpack', 'chunk-00002.msgpack', 'index.msgpack']);
  });

  test('a retried shard that is whole is kept; one with a truncated file is computed again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-modules-shards-'));
    let batches = 0;
    const counting = { ...opts, run: (b: Batch) => (batches++, run(b)), fingerprint: fp, shard: 1, shards: 2 };
    const first = await writeTeacherShard(dir, counting);
    expect(first.reused).toBe(false);
    const ran = batches;
    expect(ran).toBeGreaterThan(0);
    const again = await writeTeacherShard(dir, counting);
    expect(again).toEqual({ manifest: first.manifest, reused: true });
    expect(batches).toBe(ran);
    truncateSync(join(dir, first.manifest.file), 10);
    expect(await shardIsWhole(dir, 1, 2, fp)).toBe(false);
    const redo = await writeTeacherShard(dir, counting);
    expect(redo.reused).toBe(false);
    expect(batches).toBe(2 * ran);
    expect(await shardIsWhole(dir, 1, 2, fp)).toBe(true);
  });

  test('merge names the bad shard (missing, duplicated, other teacher or data, truncated) and writes nothing', async () => {
    const fresh = async () => {
      const dir = mkdtempSync(join(tmpdir(), 'llm-modules-shards-'));
      for (let i = 0; i < 3; i++) await writeTeacherShard(dir, { ...opts, fingerprint: fp, shard: i, shards: 3 });
      return dir;
    };
    const expectRefused = async (dir: string, msg: RegExp) => {
      const out = join(dir, '..', `${readdirSync(dir).length}-out`);
      const err = await mergeTeacherShards(dir, out).then(() => undefined, (e: Error) => e);
      expect(err?.name).toBe('TeacherCacheError');
      expect(err?.message).toMatch(msg);
      expect(err?.message).not.toMatch(/\n/);
      expect(() => readdirSync(out)).toThrow(/ENOENT/);
    };
    let dir = await fresh();
    writeFileSync(join(dir, 'shard-00002-of-00003.json'), '');
    await expectRefused(dir, /shard-00002-of-00003\.json: not a shard manifest/);
    dir = await fresh();
    rmSync(join(dir, 'shard-00001-of-00003.json'));
    await expectRefused(dir, /shard-00001-of-00003\.json: shard 1\/3 is missing/);
    dir = await fresh();
    writeFileSync(join(dir, 'shard-00002-of-00003.json'), readFileSync(join(dir, 'shard-00001-of-00003.json')));
    await expectRefused(dir, /shard-00002-of-00003\.json: holds shard 1\/3/);
    for (const [key, word] of [['teacher', 'another teacher'], ['data', 'other data']] as const) {
      dir = await fresh();
      await writeTeacherShard(dir, { ...opts, fingerprint: { ...fp, [key]: 'x'.repeat(32) }, shard: 2, shards: 3 });
      await expectRefused(dir, new RegExp(`shard-00002-of-00003\\.json: made from ${word}`));
    }
    dir = await fresh();
    truncateSync(join(dir, 'shard-00000-of-00003.f16'), 100);
    await expectRefused(dir, /shard-00000-of-00003\.f16: truncated/);
    dir = await fresh();
    const f = join(dir, 'shard-00001-of-00003.f16');
    const bytes = readFileSync(f);
    bytes[5] ^= 1;
    writeFileSync(f, bytes);
    await expectRefused(dir, /shard-00001-of-00003\.f16: content hash differs/);
    // an earlier run's 2-way split in the same folder: refused as another plan, unless the merge knows its count
    dir = await fresh();
    await writeTeacherShard(dir, { ...opts, fingerprint: fp, shard: 0, shards: 2 });
    await expectRefused(dir, /shard-00000-of-00002\.json: made for another plan \(2 shards/);
    expect((await checkTeacherShards(dir, fp, 3)).map((m) => m.shard)).toEqual([0, 1, 2]);
    // against an expected fingerprint, a consistent set from another teacher is refused too
    dir = await fresh();
    await expect(checkTeacherShards(dir, { ...fp, teacher: 'y'.repeat(32) })).rejects.toThrow(/shard-00000-of-00003\.json: made from another teacher/);
  });
});
