// Everything about text for a llava-hf checkpoint: the tokenizer, streaming detokenisation, the
// chat template and prompt building. Other layers import from here only.
export {
  TextTokenizer,
  loadTokenizer,
  cleanUpTokenizationSpaces,
  TOKENIZER_FILE,
  TOKENIZER_CONFIG_FILE,
  type EncodeOptions,
  type DecodeOptions,
} from './tokenizer.js';
export { StreamDecoder, type StreamDecoderOptions } from './stream-decoder.js';
export {
  loadChatTemplate,
  compileChatTemplate,
  userTurn,
  LLAVA_15_CHAT_TEMPLATE,
  VICUNA_V1_CHAT_TEMPLATE,
  VICUNA_V1_SYSTEM_PROMPT,
  BUILT_IN_TEMPLATE_SOURCE,
  type ChatTemplate,
  type ChatMessage,
  type ChatContent,
  type RenderOptions,
  type TemplateTokens,
} from './chat-template.js';
export { buildPrompt, type PromptRequest, type BuiltPrompt } from './prompt.js';
