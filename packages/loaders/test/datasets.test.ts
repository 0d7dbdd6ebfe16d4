import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import { DatasetError, loadRows, readRows, toChatMessages, type Row } from '../src/node.js';
import { streamJsonArray } from '../src/datasets/json-stream.js';
import { tempDir } from './helpers.js';

const stratos = [
  { system: 'Think step by step.', conversations: [{ from: 'user', value: 'What is 2+2?' }, { from: 'assistant', value: '<|begin_of_thought|>\n\n2+2=4\n\n<|end_of_thought|>' }] },
  { system: 'Be brief.', conversations: [{ from: 'user', value: '日本語 😀 "quoted" \\ [brackets] {braces}' }, { from: 'assistant', value: 'ok' }] },
];
const asChat = (r: (typeof stratos)[number]): Row => ({ kind: 'chat', system: r.system, conversations: r.conversations });

async function file(name: string, text: string | Uint8Array): Promise<string> {
  const path = join(await tempDir(), name);
  await writeFile(path, text);
  return path;
}

/** A Parquet file with the Bespoke-Stratos schema: system string, conversations list<struct<from, value>>. */
function stratosParquet(rows: typeof stratos, rowGroupSize = 1): Uint8Array {
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'system', data: rows.map((r) => r.system) },
      { name: 'conversations', data: rows.map((r) => r.conversations) },
    ],
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'system', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'conversations', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
      { name: 'from', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ],
    rowGroupSize,
  });
  return new Uint8Array(buf);
}

describe('datasets: loadRows / readRows', () => {
  it('reads Bespoke-Stratos rows from a JSON array, JSON lines and Parquet alike', async () => {
    const expected = stratos.map(asChat);
    expect(await loadRows(await file('d.json', JSON.stringify(stratos, null, 2)))).toEqual(expected);
    expect(await loadRows(await file('d.jsonl', stratos.map((r) => JSON.stringify(r)).join('\n') + '\n'))).toEqual(expected);
    expect(await loadRows(await file('d.parquet', stratosParquet(stratos)))).toEqual(expected);
    // Hugging Face `datasets` writes JSON lines into .json files
    expect(await loadRows(await file('hf.json', stratos.map((r) => JSON.stringify(r)).join('\n')))).toEqual(expected);
  });

  it('reads {text} and {input_ids} rows, including INT64 ids from Parquet', async () => {
    expect(await loadRows(await file('t.jsonl', '{"text":"hello"}\n\n{"input_ids":[1,2,3]}\n'))).toEqual([
      { kind: 'text', text: 'hello' },
      { kind: 'ids', input_ids: [1, 2, 3] },
    ]);
    const pq = parquetWriteBuffer({ columnData: [{ name: 'input_ids', data: [[1n, 2n], [151645n]] }], schema: [
      { name: 'root', num_children: 1 },
      { name: 'input_ids', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'INT64', repetition_type: 'REQUIRED' },
    ] });
    expect(await loadRows(await file('ids.parquet', new Uint8Array(pq)))).toEqual([
      { kind: 'ids', input_ids: [1, 2] },
      { kind: 'ids', input_ids: [151645] },
    ]);
  });

  it('streams a JSON array split across many read chunks (elements spanning chunk boundaries)', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ text: `row ${i} ` + 'x'.repeat(i % 700) + ' "q" \\ ] } , [' }));
    const path = await file('big.json', JSON.stringify(rows));
    let n = 0;
    for await (const row of readRows(path)) {
      expect(row).toEqual({ kind: 'text', text: rows[n].text });
      n++;
    }
    expect(n).toBe(3000);
    // tiny chunks: every element, string and multi-byte character crosses chunk boundaries
    const small = [{ text: '日本語 😀 "q" \\ ] } , [' }, 12, 'str', [1, [2]], { input_ids: [1] }, null];
    const path2 = await file('small.json', JSON.stringify(small, null, 1));
    const texts: string[] = [];
    for await (const el of streamJsonArray(path2, 3)) texts.push(el.text);
    expect(texts.map((t) => JSON.parse(t))).toEqual(small);
  });

  it('a malformed row is a DatasetError with file and line (JSON, JSONL) or row (Parquet)', async () => {
    const jsonl = await file('bad.jsonl', '{"text":"a"}\n{"text": 5}\n{"text":"c"}\n');
    await expect(loadRows(jsonl)).rejects.toThrow(new DatasetError(jsonl, '"text" must be a string', { line: 2 }));
    const broken = await file('broken.jsonl', '{"text":"a"}\n\n{"text": \n');
    await expect(loadRows(broken)).rejects.toThrow(/broken\.jsonl: line 3: invalid JSON/);
    const arr = await file('bad.json', '[\n  {"text": "a"},\n  {"conversations": [{"from": "user"}]}\n]');
    await expect(loadRows(arr)).rejects.toThrow(/bad\.json: line 3: "conversations"\[0\] must be \{"from": string, "value": string\}/);
    const truncated = await file('cut.json', '[{"text": "a"}, {"text": "b');
    await expect(loadRows(truncated)).rejects.toThrow(/cut\.json: line 1: file ends inside the JSON array/);
    const pq = await file('bad.parquet', stratosParquet([stratos[0], { system: 'x', conversations: [] as never }]));
    await expect(loadRows(pq)).rejects.toThrow(/bad\.parquet: row 2: "conversations" must be a non-empty list/);
    const notPq = await file('fake.parquet', 'this is not parquet at all');
    await expect(loadRows(notPq)).rejects.toThrow(/fake\.parquet: not a valid Parquet file/);
    await expect(loadRows(await file('x.csv', 'a,b'))).rejects.toThrow(/unknown dataset format/);
    await expect(loadRows(join(await tempDir(), 'absent.jsonl'))).rejects.toThrow(/absent\.jsonl: cannot open: no such file/);
  });

  it('skipBadRows skips malformed rows and reports each to onBadRow', async () => {
    const path = await file('mixed.jsonl', '{"text":"a"}\nnot json\n{"input_ids":[-1]}\n{"other":1}\n{"text":"b"}\n');
    const bad: DatasetError[] = [];
    const rows = await loadRows(path, { skipBadRows: true, onBadRow: (e) => bad.push(e) });
    expect(rows).toEqual([{ kind: 'text', text: 'a' }, { kind: 'text', text: 'b' }]);
    expect(bad.map((e) => e.line)).toEqual([2, 3, 4]);
    expect(bad.every((e) => e instanceof DatasetError && e.message.startsWith(path))).toBe(true);
  });

  it('maps conversations to chat-template messages', () => {
    expect(toChatMessages({ system: 'S', conversations: [{ from: 'human', value: 'q' }, { from: 'gpt', value: 'a' }] })).toEqual([
      { role: 'system', content: 'S' },
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ]);
  });
});
