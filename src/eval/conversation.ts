// The prompt LLaVA's evaluation scripts give the model: the vicuna_v1 conversation (--conv-mode
// vicuna_v1, used for LLaVA-1.5 and LLaVA-1.6-vicuna alike), the image marker and a newline before the
// question. `chat-template` renders the checkpoint's own chat template instead (as llava-hf's
// processor would).
import { OptionError } from '../errors.js';

export const CONVERSATIONS = ['vicuna_v1', 'chat-template'] as const;
export type Conversation = (typeof CONVERSATIONS)[number];

const VICUNA_V1_SYSTEM =
  "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

/** vicuna_v1's get_prompt() for one user turn and an open assistant turn. */
export function vicunaV1Prompt(message: string, imageMarker = '<image>'): string {
  return `${VICUNA_V1_SYSTEM} USER: ${imageMarker}\n${message} ASSISTANT:`;
}

/** The generate request's prompt fields for `message`: a raw vicuna_v1 prompt, or a templated question. */
export function promptFields(conversation: Conversation, message: string): { rawPrompt: string } | { prompt: string } {
  return conversation === 'vicuna_v1' ? { rawPrompt: vicunaV1Prompt(message) } : { prompt: message };
}

export function parseConversation(text: string): Conversation {
  if (!(CONVERSATIONS as readonly string[]).includes(text)) {
    throw new OptionError({ subject: '--conversation', expected: `one of ${CONVERSATIONS.join(', ')}`, found: JSON.stringify(text) });
  }
  return text as Conversation;
}
