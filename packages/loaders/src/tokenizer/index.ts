export { loadTokenizerFrom } from './tokenizer.js';
export type { ChatTemplateOptions, DecodeOptions, EncodeOptions, Tokenizer } from './tokenizer.js';
export { CHATML_TEMPLATE, renderChatTemplate } from './chat.js';
export type { ChatMessage } from './chat.js';
export { QWEN2_PATTERN } from './files.js';
