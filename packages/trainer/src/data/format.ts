/**
 * Turning dataset rows into token ids and a loss mask. Two prompt formats:
 * - `paper`: the released LLM-Modules text layout — `System:\n\n**{system}**\n\n` then, per turn,
 *   `User:\n\n{value}\n\n` or `Assistant:\n\n{value}\n\n`;
 * - `chatml`: the tokenizer's chat template (ChatML for Qwen2).
 * The loss covers every token (as the paper) or only the assistant's, and an EOS is appended by
 * default (the released code never learns to stop; `appendEos: false` reproduces it).
 */
import type { Row, Tokenizer } from '@llm-modules/loaders';

export type PromptFormat = 'paper' | 'chatml';

export interface FormatOptions {
  format?: PromptFormat;
  /** 'all' tokens (the paper) or only the 'assistant' replies (and the EOS) */
  lossOn?: 'all' | 'assistant';
  appendEos?: boolean;
  /** start every example with the tokenizer's BOS token (not a loss target); default false */
  prependBos?: boolean;
  /** replaces each row's own system prompt (the released code hard-codes one) */
  systemPrompt?: string;
}

/** One tokenized example: ids and a 0/1 mask of the positions whose token is a training target. */
export interface Example {
  inputIds: number[];
  lossMask: number[];
}

interface Segment {
  text: string;
  target: boolean;
}

const ROLE: Record<string, string> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', system: 'system' };

function roleOf(from: string): string {
  const role = ROLE[from.toLowerCase()];
  if (!role) throw new Error(`unknown conversation role "${from}" (expected user/human or assistant/gpt)`);
  return role;
}

function paperSegments(row: Extract<Row, { kind: 'chat' }>, systemPrompt?: string): Segment[] {
  const system = systemPrompt ?? row.system;
  const segments: Segment[] = system ? [{ text: `System:\n\n**${system}**\n\n`, target: false }] : [];
  for (const turn of row.conversations) {
    const assistant = roleOf(turn.from) === 'assistant';
    segments.push({ text: assistant ? 'Assistant:\n\n' : 'User:\n\n', target: false });
    segments.push({ text: turn.value, target: assistant });
    segments.push({ text: '\n\n', target: false });
  }
  return segments;
}

function chatmlSegments(row: Extract<Row, { kind: 'chat' }>, tok: Tokenizer, systemPrompt?: string): Segment[] {
  const system = systemPrompt ?? row.system;
  const messages = [...(system ? [{ role: 'system', content: system }] : []), ...row.conversations.map((t) => ({ role: roleOf(t.from), content: t.value }))];
  // Render the template up to and after each assistant reply, so the reply's own text is the target.
  const segments: Segment[] = [];
  let done = '';
  for (let i = 0; i < messages.length; i++) {
    const upTo = tok.applyChatTemplate(messages.slice(0, i + 1), { addGenerationPrompt: false });
    if (messages[i].role === 'assistant') {
      const prompt = tok.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true });
      const start = upTo.indexOf(messages[i].content, prompt.length);
      if (!prompt.startsWith(done) || start < 0) throw new Error('the chat template does not render messages as a growing prefix');
      segments.push({ text: prompt.slice(done.length), target: false });
      segments.push({ text: messages[i].content, target: true });
      segments.push({ text: upTo.slice(start + messages[i].content.length), target: false });
    } else {
      if (!upTo.startsWith(done)) throw new Error('the chat template does not render messages as a growing prefix');
      segments.push({ text: upTo.slice(done.length), target: false });
    }
    done = upTo;
  }
  return segments;
}

/**
 * Tokenize one row. Segments are tokenized separately so that the loss mask follows exact text
 * boundaries (byte-level BPE never merges across them here: each boundary is a newline or a special token).
 *
 * @example-skip a fragment: needs a dataset row and a tokenizer folder (the trainer's data tests run it)
 * @example
 * ```ts
 * const ex = formatExample(row, tokenizer, { format: 'paper', lossOn: 'all' });
 * ex.inputIds.length === ex.lossMask.length; // true
 * ```
 */
export function formatExample(row: Row, tok: Tokenizer, opts: FormatOptions = {}): Example {
  const { format = 'paper', lossOn = 'all', appendEos = true, prependBos = false, systemPrompt } = opts;
  let segments: Segment[];
  if (row.kind === 'ids') {
    segments = [];
  } else if (row.kind === 'text') {
    segments = [{ text: row.text, target: true }];
  } else {
    segments = format === 'paper' ? paperSegments(row, systemPrompt) : chatmlSegments(row, tok, systemPrompt);
  }
  const inputIds: number[] = row.kind === 'ids' ? row.input_ids.slice() : [];
  const lossMask: number[] = row.kind === 'ids' ? row.input_ids.map(() => 1) : [];
  if (prependBos) {
    const bos = tok.bosTokenId;
    if (bos === undefined || bos === null) throw new Error(`tokenizer ${tok.dir} has no BOS token: drop prependBos`);
    // nothing predicts the first token, so BOS is never a target
    inputIds.unshift(bos);
    lossMask.unshift(0);
  }
  for (const seg of segments) {
    if (!seg.text) continue;
    const ids = tok.encode(seg.text, { addSpecialTokens: false });
    inputIds.push(...ids);
    for (let i = 0; i < ids.length; i++) lossMask.push(lossOn === 'all' || seg.target ? 1 : 0);
  }
  if (appendEos) {
    const eos = tok.eosTokenId;
    if (eos === undefined || eos === null) throw new Error(`tokenizer ${tok.dir} has no EOS token: pass appendEos: false`);
    inputIds.push(eos);
    lossMask.push(1);
  }
  return { inputIds, lossMask };
}
