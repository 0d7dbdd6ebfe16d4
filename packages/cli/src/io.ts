/** Where a command writes. Tests pass their own; the bin uses the process streams. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stderr is a terminal: `\r` progress lines are welcome */
  interactive?: boolean;
}

export const processIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  get interactive() {
    return process.stderr.isTTY === true;
  },
};

/** Thrown by commands for bad input: printed as one line, exit code 1. */
export class CliError extends Error {}

/** `1234567` → `"1,234,567"`. */
export const thousands = (n: number) => n.toLocaleString('en-US');

/** `58800` → `"58.8K"`, `1543714304` → `"1.54B"`. */
export function humanCount(n: number): string {
  for (const [unit, size] of [['T', 1e12], ['B', 1e9], ['M', 1e6], ['K', 1e3]] as const) {
    if (n >= size) return `${(n / size).toPrecision(3)}${unit}`;
  }
  return String(n);
}

/** `235200` → `"229.7 KiB"`. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** File-system error codes in words (a user should never have to look up `EFBIG`). */
const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EISDIR: 'is a folder, expected a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EFBIG: 'the file grew past the largest size allowed here (file system or ulimit -f)',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'the name is too long',
  ENOTEMPTY: 'the folder is not empty',
  EIO: 'an input/output error from the disk',
};

/**
 * A Node file-system error as one line in words, naming its path when the error carries one (`where` otherwise);
 * null for anything that is not a file-system error.
 *
 * @example
 * ```ts
 * fsErrorLine(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }), 'runs/a')
 * // → 'runs/a: cannot write: the disk is full'
 * ```
 */
export function fsErrorLine(err: unknown, where?: string): string | null {
  const e = err as { code?: unknown; syscall?: unknown; path?: unknown } | null;
  if (!e || typeof e.code !== 'string' || !(e.code in FS_PROBLEMS)) return null;
  const path = typeof e.path === 'string' ? e.path : where;
  const verb = typeof e.syscall === 'string' && /write|mkdir|rename|copy|append|fsync|ftruncate|unlink|rmdir/.test(e.syscall) ? 'cannot write' : 'cannot read';
  return `${path ? `${path}: ` : ''}${verb}: ${FS_PROBLEMS[e.code]}`;
}

