import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { DatasetError, describeFsError } from '../errors.js';
import { streamJsonArray } from './json-stream.js';
import { streamParquet } from './parquet.js';
import { normalizeRow, type Row, type Turn, type Where } from './rows.js';

export { normalizeRow, toChatMessages } from './rows.js';
export type { Row, Turn } from './rows.js';

export type DatasetFormat = 'json' | 'jsonl' | 'parquet';

export interface RowOptions {
  /** File format; by default from the extension (.json, .jsonl/.ndjson, .parquet). A .json file that starts with "{" is read as JSON lines, as Hugging Face `datasets` writes them. */
  format?: DatasetFormat;
  /** Skip malformed rows instead of failing on the first one; each skipped row is passed to `onBadRow`. */
  skipBadRows?: boolean;
  onBadRow?: (error: DatasetError) => void;
}

async function detect(path: string): Promise<DatasetFormat> {
  const lower = path.toLowerCase();
  if (lower.endsWith('.parquet')) return 'parquet';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (!lower.endsWith('.json')) throw new DatasetError(path, 'unknown dataset format: expected .json, .jsonl, .ndjson or .parquet');
  const stream = createReadStream(path, { encoding: 'utf8', start: 0, end: 4095 });
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const m = /[^\s\ufeff]/.exec(chunk);
      if (m) return m[0] === '{' ? 'jsonl' : 'json';
    }
  } finally {
    stream.destroy();
  }
  return 'json';
}

async function* rawValues(path: string, format: DatasetFormat): AsyncGenerator<{ value?: unknown; parseError?: string; where: Where }> {
  if (format === 'parquet') {
    for await (const { value, index } of streamParquet(path)) yield { value, where: { row: index } };
    return;
  }
  if (format === 'json') {
    for await (const el of streamJsonArray(path)) {
      try {
        yield { value: JSON.parse(el.text), where: { line: el.line, row: el.index } };
      } catch (err) {
        yield { parseError: `invalid JSON (${(err as Error).message})`, where: { line: el.line, row: el.index } };
      }
    }
    return;
  }
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  let row = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      yield { parseError: `invalid JSON (${(err as Error).message})`, where: { line, row: row++ } };
      continue;
    }
    yield { value, where: { line, row: row++ } };
  }
}

/**
 * Stream the rows of a dataset file (JSON array, JSON lines or Parquet), checked and normalised: conversations
 * (`system` + `conversations: [{from, value}]`), `{text}` or `{input_ids}`. A malformed row throws a DatasetError
 * naming the file and its line (JSON, JSONL) or row (Parquet), unless `skipBadRows` is set.
 *
 * @example-skip reads a dataset file (bespoke.jsonl)
 * @example
 * ```ts
 * for await (const row of readRows('bespoke.jsonl', { skipBadRows: true, onBadRow: (e) => console.warn(e.message) })) {
 *   if (row.kind === 'chat') console.log(row.conversations.length);
 * }
 * ```
 */
export async function* readRows(path: string, opts: RowOptions = {}): AsyncGenerator<Row> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new DatasetError(path, 'not a file');
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(path, `cannot open: ${describeFsError(err)}`, {}, { cause: err });
  }
  const format = opts.format ?? (await detect(path));
  for await (const item of rawValues(path, format)) {
    // Parquet and JSON arrays locate by row, JSON lines by line (its natural unit for editors and `sed -n`).
    const where: Where = format === 'parquet' ? item.where : { line: item.where.line };
    let row: Row;
    try {
      if (item.parseError !== undefined) throw new DatasetError(path, item.parseError, where);
      row = normalizeRow(item.value, path, where);
    } catch (err) {
      if (!(err instanceof DatasetError) || !opts.skipBadRows) throw err;
      opts.onBadRow?.(err);
      continue;
    }
    yield row;
  }
}

/**
 * Read all rows of a dataset file into memory (see {@link readRows} for streaming).
 *
 * @example-skip reads a dataset file (train.parquet)
 * @example
 * ```ts
 * const rows = await loadRows('train.parquet');
 * console.log(rows.length, rows[0].kind);
 * ```
 */
export async function loadRows(path: string, opts: RowOptions = {}): Promise<Row[]> {
  const out: Row[] = [];
  for await (const row of readRows(path, opts)) out.push(row);
  return out;
}
