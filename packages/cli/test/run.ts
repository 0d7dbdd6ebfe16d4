/** Run the CLI in-process as the tests do: exit code and everything written to stdout and stderr. */
import { main } from '../src/index.js';

export async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

/** The last line of stdout parsed as JSON (the --json contract). */
export const lastJson = (out: string) => JSON.parse(out.trimEnd().split('\n').at(-1)!);
