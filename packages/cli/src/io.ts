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
