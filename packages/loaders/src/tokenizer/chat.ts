import { Template } from '@huggingface/jinja';
import { TokenizerError } from '../errors.js';

/** One chat message, as chat templates expect it. */
export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * Qwen2-Instruct's ChatML template: a default system message when the chat has none, each message as
 * `<|im_start|>{role}\n{content}<|im_end|>\n`, and `<|im_start|>assistant\n` for a generation prompt.
 * Used when a tokenizer with ChatML tokens ships no `chat_template`.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const compiled = new Map<string, Template>();

/** `chat_template` of tokenizer_config.json: a string, or a list of `{name, template}` (the "default" one is used). */
export function pickTemplate(value: unknown, file: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as Array<{ name?: unknown; template?: unknown }>;
    const t = named.find((x) => x.name === 'default') ?? named[0];
    if (t && typeof t.template === 'string') return t.template;
  }
  throw new TokenizerError(file, 'chat_template is neither a string nor a list of {name, template}');
}

/**
 * Render a Jinja chat template (Hugging Face's `apply_chat_template(..., tokenize=False)`).
 *
 * @example
 * ```ts
 * renderChatTemplate(CHATML_TEMPLATE, [{ role: 'user', content: 'hi' }], { addGenerationPrompt: true });
 * // '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n'
 * ```
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  opts: { addGenerationPrompt?: boolean; variables?: Record<string, unknown>; file?: string } = {},
): string {
  const file = opts.file ?? 'chat_template';
  for (const [i, m] of messages.entries()) {
    if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') throw new TokenizerError(file, `message ${i} needs a string role and content`);
  }
  let t = compiled.get(template);
  try {
    if (!t) {
      t = new Template(template);
      compiled.set(template, t);
    }
    return t.render({ ...opts.variables, messages, add_generation_prompt: opts.addGenerationPrompt ?? false });
  } catch (err) {
    throw new TokenizerError(file, `chat template failed: ${(err as Error).message}`);
  }
}
