import { createReadStream } from 'node:fs';
import { DatasetError, describeFsError } from '../errors.js';

/** One element of a streamed JSON array: its text, 1-based start line and 0-based index. */
export interface RawElement {
  text: string;
  line: number;
  index: number;
}

/**
 * Stream the top-level elements of a JSON array file without parsing the whole file: brackets and strings are
 * tracked, and each element's text is handed out as soon as it is complete. Structural problems (no `[`, text
 * after `]`, end of file inside the array) are fatal DatasetErrors; each element is parsed by the caller.
 */
export async function* streamJsonArray(file: string, chunkBytes = 1 << 20): AsyncGenerator<RawElement> {
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: chunkBytes });
  let state: 'start' | 'value-or-end' | 'value' | 'in-value' | 'comma-or-end' | 'done' = 'start';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let line = 1;
  let index = 0;
  let startLine = 1;
  let parts: string[] = [];
  let partStart = 0;
  const fail = (problem: string): never => {
    throw new DatasetError(file, problem, { line });
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      partStart = 0;
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk.charCodeAt(i);
        if (state === 'in-value') {
          if (inString) {
            if (escaped) escaped = false;
            else if (c === 0x5c) escaped = true;
            else if (c === 0x22) inString = false;
            else if (c === 0x0a) line++;
            continue;
          }
          if (c === 0x22) inString = true;
          else if (c === 0x7b || c === 0x5b) depth++;
          else if (c === 0x7d || c === 0x5d) {
            if (depth === 0) {
              // a primitive element ended by the closing bracket of the array
              if (c === 0x7d) fail('unbalanced "}" in the array');
              parts.push(chunk.slice(partStart, i));
              yield { text: parts.join(''), line: startLine, index: index++ };
              parts = [];
              state = 'done';
              continue;
            }
            depth--;
          } else if (c === 0x2c && depth === 0) {
            parts.push(chunk.slice(partStart, i));
            yield { text: parts.join(''), line: startLine, index: index++ };
            parts = [];
            state = 'value';
            continue;
          } else if (c === 0x0a) line++;
          if (depth === 0 && (c === 0x7d || c === 0x5d)) {
            parts.push(chunk.slice(partStart, i + 1));
            yield { text: parts.join(''), line: startLine, index: index++ };
            parts = [];
            state = 'comma-or-end';
          }
          continue;
        }
        if (c === 0x0a) {
          line++;
          continue;
        }
        if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0xfeff) continue;
        if (state === 'start') {
          if (c !== 0x5b) fail('expected a JSON array ("[") at the start of the file');
          state = 'value-or-end';
        } else if (state === 'comma-or-end') {
          if (c === 0x2c) state = 'value';
          else if (c === 0x5d) state = 'done';
          else fail(`expected "," or "]" after element ${index - 1}`);
        } else if (state === 'done') {
          fail('unexpected text after the closing "]"');
        } else {
          if (c === 0x5d) {
            if (state === 'value') fail('trailing comma before "]"');
            state = 'done';
            continue;
          }
          state = 'in-value';
          startLine = line;
          partStart = i;
          depth = c === 0x7b || c === 0x5b ? 1 : 0;
          inString = c === 0x22;
        }
      }
      if (state === 'in-value') parts.push(chunk.slice(partStart));
    }
  } catch (err) {
    if (err instanceof DatasetError) throw err;
    throw new DatasetError(file, `cannot read: ${describeFsError(err)}`, {}, { cause: err });
  } finally {
    stream.destroy();
  }
  if ((state as string) !== 'done') fail((state as string) === 'start' ? 'empty file, expected a JSON array' : 'file ends inside the JSON array (truncated?)');
}
