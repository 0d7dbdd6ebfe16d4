/**
 * One temporary folder per test run: os.tmpdir() points into it (TMPDIR, inherited by the test workers and
 * the processes they spawn) and it is removed when the run ends, so the run folders, caches and configs
 * that tests make with mkdtemp never pile up in the system's temp folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'llm-modules-test-'));
  const prev = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    rmSync(dir, { recursive: true, force: true });
    if (prev === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = prev;
  };
}
