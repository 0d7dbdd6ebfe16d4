import { describe, expect, test } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setBackend } from '@llm-modules/tensor';
import { loadPretrained } from '@llm-modules/transformer';
import { bucketedBatches, cacheFingerprint, collate, openTeacherCache, withTeacherStates, writeTeacherCache, type Example } from '@llm-modules/trainer';

const teacherDir = fileURLToPath(new URL('../../transformer/test/fixtures/models/qwen2-tied', import.meta.url));
const examples: Example[] = Array.from({ length: 7 }, (_, i) => {
  const ids = Array.from({ length: 3 + i }, (_, t) => (i * 13 + t * 7) % 90);
  return { inputIds: ids, lossMask: ids.map(() => 1) };
});

describe('teacher-state cache', async () => {
  setBackend('cpu');
  const { model, params, config } = await loadPretrained(teacherDir);
  const run = (b: ReturnType<typeof collate>) => model.apply(params, b.inputIds, { attentionMask: b.attentionMask }).lastHiddenState;
  const D = (config as { hidden_size: number }).hidden_size;

  test('round trip: cached states equal the teacher run (to float16), in batches too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-modules-cache-'));
    const fp = await cacheFingerprint({ teacherConfig: config, teacherParams: params, examples, settings: { layer: -1 } });
    let progress = 0;
    await writeTeacherCache(dir, { examples, fingerprint: fp, hiddenSize: D, run, collate: (g) => collate(g, 0), batchSize: 3, chunkSize: 4, onProgress: (n) => (progress = n) });
    expect(progress).toBe(7);
    const cache = await openTeacherCache(dir, fp);
    expect(cache.size).toBe(7);
    for (let i = 0; i < 7; i++) {
      const direct = (await run(collate([examples[i]], 0)).data()) as Float32Array; // one example alone: no padding
      const cached = await cache.get(i);
      expect(cached.length).toBe(direct.length);
      direct.forEach((v, k) => expect(Math.abs(cached[k] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 1e-7));
    }
    for await (const b of withTeacherStates(bucketedBatches(examples, { batchSize: 3, padId: 0 }), cache)) {
      expect(b.teacherStates!.shape).toEqual([...b.inputIds.shape, D]);
    }
  });

  test('a cache made for other data, settings or teacher is refused with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-modules-cache-'));
    const fp = await cacheFingerprint({ teacherConfig: config, teacherParams: params, examples, settings: { layer: -1 } });
    await writeTeacherCache(dir, { examples, fingerprint: fp, hiddenSize: D, run, collate: (g) => collate(g, 0) });
    const otherData = await cacheFingerprint({ teacherConfig: config, teacherParams: params, examples: examples.slice(1), settings: { layer: -1 } });
    await expect(openTeacherCache(dir, otherData)).rejects.toThrow(/made for a different data/);
    const otherSettings = await cacheFingerprint({ teacherConfig: config, teacherParams: params, examples, settings: { layer: -2 } });
    await expect(openTeacherCache(dir, otherSettings)).rejects.toThrow(/different settings/);
    const otherTeacher = await cacheFingerprint({ teacherConfig: { ...(config as object), rope_theta: 1 }, teacherParams: params, examples, settings: { layer: -1 } });
    await expect(openTeacherCache(dir, otherTeacher)).rejects.toThrow(/different teacher/);
    const empty = mkdtempSync(join(tmpdir(), 'llm-modules-cache-'));
    await expect(openTeacherCache(empty, fp)).rejects.toThrow(/no readable teacher cache index/);
    writeFileSync(join(empty, 'index.msgpack'), 'garbage');
    await expect(openTeacherCache(empty, fp)).rejects.toThrow(/teacher cache/);
  });
});
