/** A full disk or a file past the size limit is the machine's state: one line in words naming the run folder, never "internal error: EFBIG". */
import { describe, expect, test, vi } from 'vitest';
import { join } from 'node:path';
import { fsErrorLine } from '../src/io.js';
import { lmSetup } from './lm-setup.js';

// Node's own error for a write that fails mid-run: a code and a syscall, and no path
const nodeError = (code: string, message: string) => Object.assign(new Error(`${code}: ${message}, write`), { code, errno: -28, syscall: 'write' });
let failWith: Error | null = null;
vi.mock('@llm-modules/trainer', async (original) => {
  const real = await original<typeof import('@llm-modules/trainer')>();
  return { ...real, runTrainConfig: async (...args: Parameters<typeof real.runTrainConfig>) => (failWith ? Promise.reject(failWith) : real.runTrainConfig(...args)) };
});
const { main } = await import('../src/index.js');

describe('file-system errors in words', () => {
  test.each([
    ['ENOSPC', 'no space left on device', 'the disk is full'],
    ['EFBIG', 'file too large', 'the file grew past the largest size allowed here (file system or ulimit -f)'],
  ])('train failing with %s names the run folder', async (code, message, words) => {
    const file = lmSetup({ maxSteps: 1 });
    failWith = nodeError(code, message);
    let err = '';
    try {
      expect(await main(['train', '--config', file], { stdout: () => {}, stderr: (s) => void (err += s) })).toBe(1);
    } finally {
      failWith = null;
    }
    expect(err).toBe(`llm-modules: ${join(file, '..', 'out')}: cannot write: ${words}\n`);
  });

  test('an error that carries its path names it; anything else is not a file-system error', () => {
    expect(fsErrorLine(Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR', syscall: 'read', path: '/data/x' }))).toBe('/data/x: cannot read: is a folder, expected a file');
    expect(fsErrorLine(Object.assign(new Error('EEXIST: file already exists, mkdir'), { code: 'EEXIST', syscall: 'mkdir', path: '/runs/a' }))).toBe('/runs/a: cannot write: already exists');
    expect(fsErrorLine(new Error('index out of range'))).toBeNull();
  });
});
