// Turns a question (through the chat template) or a raw prompt into text and token ids with the
// image marker as ONE token, checking that marker and image agree. Expanding the marker into the
// image's N tokens and checking the context length are the engine's job.
import { PromptError, TokenizerError, describe } from '../errors.js';
import { BUILT_IN_TEMPLATE_SOURCE, LLAVA_15_CHAT_TEMPLATE, compileChatTemplate, userTurn, type ChatMessage, type ChatTemplate } from './chat-template.js';
import type { TextTokenizer } from './tokenizer.js';

export interface PromptRequest {
  readonly tokenizer: TextTokenizer;
  /** The checkpoint's template; null means LLaVA-1.5's (`USER: <image>\n{prompt} ASSISTANT:`). */
  readonly template: ChatTemplate | null;
  /** config.json's `image_token_index`, e.g. 32000 for `<image>`. */
  readonly imageTokenId: number;
  readonly hasImage: boolean;
  /** A question, rendered as one user turn (with the image first when there is one). */
  readonly prompt?: string | undefined;
  /** Text used verbatim; its image marker marks where the image goes. */
  readonly rawPrompt?: string | undefined;
  /** A whole conversation (a server's chat request), rendered with the chat template. */
  readonly messages?: readonly ChatMessage[] | undefined;
}

export interface BuiltPrompt {
  readonly text: string;
  readonly inputIds: number[];
  /** Indices into inputIds of the image marker: [] or [i] (one image per prompt for now). */
  readonly imagePositions: number[];
}

/** The content of the image token, checked to encode as exactly that one id. */
function imageMarker(tokenizer: TextTokenizer, imageTokenId: number): string {
  const marker = tokenizer.token(imageTokenId);
  const ids = marker === undefined ? [] : tokenizer.encode(marker, { addSpecialTokens: false });
  if (marker === undefined || ids.length !== 1 || ids[0] !== imageTokenId) {
    throw new TokenizerError({
      subject: 'tokenizer.json: added_tokens',
      expected: `an added token with id ${imageTokenId} (config.json's image_token_index) that encodes as that one id`,
      found: marker === undefined ? 'no token with that id' : `${describe(marker)}, encoded as ${describe(ids)}`,
    });
  }
  return marker;
}

export function buildPrompt(request: PromptRequest): BuiltPrompt {
  const { tokenizer, imageTokenId, hasImage, prompt, rawPrompt, messages } = request;
  const given = [prompt, rawPrompt, messages].filter((p) => p !== undefined).length;
  if (given !== 1) {
    throw new PromptError({
      subject: 'prompt',
      expected: 'exactly one of a prompt (rendered with the chat template), a raw prompt (used verbatim) and messages',
      found: given === 0 ? 'neither' : given === 2 ? 'both' : 'all three',
    });
  }
  const marker = imageMarker(tokenizer, imageTokenId);
  const subject = rawPrompt !== undefined ? 'raw prompt' : messages !== undefined ? 'messages' : 'prompt';
  const template = request.template ?? compileChatTemplate(BUILT_IN_TEMPLATE_SOURCE, LLAVA_15_CHAT_TEMPLATE, tokenizer);
  const text = rawPrompt ?? template.render(messages ?? userTurn(prompt ?? '', hasImage), { addGenerationPrompt: true });

  // As transformers' processor.apply_chat_template does: a text that already starts with BOS (a
  // template writing `{{ bos_token }}`, or a raw prompt) must not get a second one.
  const startsWithBos = tokenizer.bosToken !== undefined && text.startsWith(tokenizer.bosToken);
  const inputIds = tokenizer.encode(text, { addSpecialTokens: !startsWithBos });
  const imagePositions = inputIds.flatMap((id, i) => (id === imageTokenId ? [i] : []));

  if (imagePositions.length > 1) {
    throw new PromptError({
      subject,
      expected: `at most one ${marker} marker: only one image per prompt is supported for now`,
      found: `${imagePositions.length} markers in ${describe(text)}`,
    });
  }
  if (hasImage && imagePositions.length === 0) {
    throw new PromptError({
      subject,
      expected: `a ${marker} marker where the image goes, since an image was given`,
      found: describe(text),
      hint: rawPrompt !== undefined ? `write ${marker} into the raw prompt` : `the chat template (${template.source}) rendered no ${marker}`,
    });
  }
  if (!hasImage && imagePositions.length > 0) {
    throw new PromptError({
      subject,
      expected: `no ${marker} marker, since no image was given`,
      found: describe(text),
      hint: 'give an image, or remove the marker',
    });
  }
  return { text, inputIds, imagePositions };
}
