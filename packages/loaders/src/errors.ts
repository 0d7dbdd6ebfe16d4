/**
 * Typed errors. Every loader error names the file and the problem on one line: `FILE: problem`.
 * Callers (the CLI above all) can print `err.message` as is and exit.
 *
 * @example
 * ```ts
 * import { readSafetensors, SafetensorsError } from '@llm-modules/loaders';
 * try {
 *   await readSafetensors('broken.safetensors');
 * } catch (err) {
 *   if (err instanceof SafetensorsError) console.error(err.message); // "broken.safetensors: truncated: ..."
 * }
 * ```
 */
export class LoaderError extends Error {
  /** The file (or folder) the problem is in. */
  readonly file: string;
  /** The problem alone, without the file name. */
  readonly problem: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    const oneLine = problem.replace(/\s*[\r\n]+\s*/g, ' ').trim();
    super(`${file}: ${oneLine}`, options);
    this.name = new.target.name;
    this.file = file;
    this.problem = oneLine;
  }
}

/** A safetensors file (or sharded index) is unreadable, malformed or lies about its contents. */
export class SafetensorsError extends LoaderError {}

/** A Hugging Face `config.json` is missing, malformed, of an unknown `model_type` or lacks a required field. */
export class ConfigError extends LoaderError {}

/** Tokenizer files are missing or malformed. */
export class TokenizerError extends LoaderError {}

/** A checkpoint folder cannot be written or read back. */
export class CheckpointError extends LoaderError {}

/**
 * A dataset file or one of its rows is malformed. `line` (JSONL, JSON) or `row` (0-based, all formats) locate it;
 * the message counts both from 1, as editors do (`row 1` is the first row).
 */
export class DatasetError extends LoaderError {
  readonly line?: number;
  readonly row?: number;

  constructor(file: string, problem: string, where: { line?: number; row?: number } = {}, options?: { cause?: unknown }) {
    const loc = where.line !== undefined ? `line ${where.line}: ` : where.row !== undefined ? `row ${where.row + 1}: ` : '';
    super(file, loc + problem, options);
    this.line = where.line;
    this.row = where.row;
  }
}

/** A short, one-line description of a Node.js fs error (`ENOENT` → "no such file"). */
export function describeFsError(err: unknown): string {
  const code = (err as { code?: string } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EISDIR':
      return 'is a folder, expected a file';
    case 'ENOTDIR':
      return 'not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
