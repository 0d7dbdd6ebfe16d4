import { DatasetError } from '../errors.js';

/** One turn of a Bespoke-Stratos / ShareGPT conversation. */
export interface Turn {
  from: string;
  value: string;
}

/**
 * A dataset row, by kind: a conversation (Bespoke-Stratos schema `system` + `conversations: [{from, value}]`;
 * rows with `messages: [{role, content}]` are read as conversations too), plain `text`, or pre-tokenized `input_ids`.
 */
export type Row =
  | { kind: 'chat'; system: string | null; conversations: Turn[] }
  | { kind: 'text'; text: string }
  | { kind: 'ids'; input_ids: number[] };

export type Where = { line?: number; row?: number };

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function turns(list: unknown, key: string, fromKey: string, valueKey: string, file: string, where: Where): Turn[] {
  if (!Array.isArray(list) || list.length === 0) throw new DatasetError(file, `"${key}" must be a non-empty list`, where);
  return list.map((t, i) => {
    if (!isObject(t) || typeof t[fromKey] !== 'string' || typeof t[valueKey] !== 'string') {
      throw new DatasetError(file, `"${key}"[${i}] must be {"${fromKey}": string, "${valueKey}": string}`, where);
    }
    return { from: t[fromKey] as string, value: t[valueKey] as string };
  });
}

function tokenIds(list: unknown, file: string, where: Where): number[] {
  if (!Array.isArray(list) && !ArrayBuffer.isView(list)) throw new DatasetError(file, '"input_ids" must be a list of token ids', where);
  const out = Array.from(list as ArrayLike<unknown>, (v, i) => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
      throw new DatasetError(file, `"input_ids"[${i}] = ${String(v)} is not a token id (an integer in [0, 2^31))`, where);
    }
    return n;
  });
  return out;
}

/**
 * Check one parsed row against the supported schemas and return it in normal form.
 *
 * @example
 * ```ts
 * normalizeRow({ system: 'Be brief.', conversations: [{ from: 'user', value: 'hi' }] }, 'data.jsonl', { line: 1 });
 * // { kind: 'chat', system: 'Be brief.', conversations: [{ from: 'user', value: 'hi' }] }
 * ```
 */
export function normalizeRow(value: unknown, file: string, where: Where): Row {
  if (!isObject(value)) throw new DatasetError(file, `row is ${Array.isArray(value) ? 'a list' : typeof value}, expected an object`, where);
  if ('conversations' in value || 'messages' in value) {
    const system = value.system ?? null;
    if (system !== null && typeof system !== 'string') throw new DatasetError(file, '"system" must be a string', where);
    const conversations =
      'conversations' in value ? turns(value.conversations, 'conversations', 'from', 'value', file, where) : turns(value.messages, 'messages', 'role', 'content', file, where);
    return { kind: 'chat', system, conversations };
  }
  if ('text' in value) {
    if (typeof value.text !== 'string') throw new DatasetError(file, '"text" must be a string', where);
    return { kind: 'text', text: value.text };
  }
  if ('input_ids' in value) return { kind: 'ids', input_ids: tokenIds(value.input_ids, file, where) };
  const keys = Object.keys(value).slice(0, 5).join(', ');
  throw new DatasetError(file, `row has none of "conversations", "messages", "text", "input_ids" (keys: ${keys || 'none'})`, where);
}

/**
 * A conversation row as chat-template messages: `system` first, then `from` mapped to a role
 * (`human` → `user`, `gpt` → `assistant`, others kept).
 *
 * @example
 * ```ts
 * toChatMessages({ kind: 'chat', system: 'Be brief.', conversations: [{ from: 'user', value: 'hi' }] });
 * // [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }]
 * ```
 */
export function toChatMessages(row: { system: string | null; conversations: Turn[] }): Array<{ role: string; content: string }> {
  const role = (from: string) => (from === 'human' ? 'user' : from === 'gpt' ? 'assistant' : from);
  const out = row.system !== null ? [{ role: 'system', content: row.system }] : [];
  return [...out, ...row.conversations.map((t) => ({ role: role(t.from), content: t.value }))];
}
