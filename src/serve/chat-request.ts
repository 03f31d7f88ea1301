// The body of POST /v1/chat/completions, as OpenAI defines it, checked with zod before the request
// queues: every refusal is a 400 naming the field (`messages[0].content[1].image_url.url`).
// Fields visdrop cannot honour (n > 1, tools, logprobs) are refused, not ignored; nulls count as
// absent, as OpenAI's own server treats them.
import { z } from 'zod';
import type { ChatContent, ChatMessage } from '../text/index.js';
import { ApiError, invalidRequest } from './api-error.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const imagePart = z.object({
  type: z.literal('image_url'),
  image_url: z.object({ url: z.string().min(1), detail: z.enum(['auto', 'low', 'high']).nullish() }),
});
const contentPart = z.discriminatedUnion('type', [textPart, imagePart]);
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(contentPart).min(1)]),
  name: z.string().nullish(),
});

/** At most 4 stop strings, as OpenAI allows. */
const MAX_STOP_STRINGS = 4;

export const chatRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(MAX_STOP_STRINGS)]).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.literal(1).nullish(),
  logprobs: z.literal(false).nullish(),
  tools: z.array(z.unknown()).max(0).nullish(),
  /** visdrop's own: the strategy and its options (see strategy-options.ts). */
  visdrop: z.record(z.string(), z.unknown()).nullish(),
});

export type ChatRequestBody = z.infer<typeof chatRequestSchema>;

/** The one image of a request, where it came from. */
export interface ImageReference {
  readonly url: string;
  /** Its field, for errors. */
  readonly param: string;
}

export interface ChatRequest {
  readonly model: string;
  /** The conversation as the chat template takes it: each message's images first, then its text. */
  readonly messages: ChatMessage[];
  readonly image: ImageReference | null;
  /** max_completion_tokens, else max_tokens, else undefined (the server's default). */
  readonly maxTokens: number | undefined;
  readonly maxTokensParam: string;
  readonly temperature: number | undefined;
  readonly topP: number | undefined;
  readonly seed: number | undefined;
  readonly stop: string[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly visdrop: Readonly<Record<string, unknown>> | undefined;
}

/** `messages[0].content[1].image_url.url` from zod's path. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.reduce<string>((name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)), '');
}

interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/**
 * The issue to report: inside a union (content as a string or a list of parts), the branch that got
 * furthest into the value, so `messages[0].content[0].type` is named rather than `content`.
 */
function deepestIssue(issue: z.core.$ZodIssue): Issue {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const branches = issue.errors.flatMap((branch) => (branch[0] ? [deepestIssue(branch[0])] : []));
  const deepest = branches.reduce((a, b) => (b.path.length > a.path.length ? b : a), branches[0]!);
  return deepest.path.length === 0 ? issue : { path: [...issue.path, ...deepest.path], message: deepest.message };
}

const UNSUPPORTED: Readonly<Record<string, string>> = {
  n: '1 (one choice per request)',
  logprobs: 'false (log probabilities are not returned)',
  tools: 'no tools (tool calls are not supported)',
};

export function parseChatRequest(body: unknown): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_request_error', `request body: expected a JSON object, found ${body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`);
  }
  const parsed = chatRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = deepestIssue(parsed.error.issues[0]!);
    const param = fieldName(issue.path) || 'request body';
    const top = String(issue.path[0] ?? '');
    if (UNSUPPORTED[top]) throw invalidRequest(param, UNSUPPORTED[top], JSON.stringify((body as Record<string, unknown>)[top]), 'unsupported_parameter');
    throw new ApiError(400, 'invalid_request_error', `${param}: ${issue.message}`, param);
  }
  const b = parsed.data;
  let image: ImageReference | null = null;
  const messages = b.messages.map((m, i): ChatMessage => {
    const role = m.role === 'developer' ? 'system' : m.role;
    if (typeof m.content === 'string') return { role, content: [{ type: 'text', text: m.content }] };
    const images: ChatContent[] = [];
    const texts: string[] = [];
    m.content.forEach((part, j) => {
      if (part.type === 'text') {
        texts.push(part.text);
        return;
      }
      const param = `messages[${i}].content[${j}].image_url.url`;
      if (image) throw invalidRequest(param, `one image per request (the first is ${image.param})`, 'a second image');
      image = { url: part.image_url.url, param };
      images.push({ type: 'image' });
    });
    // As vLLM does for LLaVA: the image placeholder before the text, whatever the parts' order,
    // the layout LLaVA was trained on and the one llava-hf's processor builds.
    return { role, content: [...images, ...(texts.length ? [{ type: 'text' as const, text: texts.join('\n') }] : [])] };
  });
  const maxTokens = b.max_completion_tokens ?? b.max_tokens ?? undefined;
  return {
    model: b.model,
    messages,
    image,
    maxTokens,
    maxTokensParam: b.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    temperature: b.temperature ?? undefined,
    topP: b.top_p ?? undefined,
    seed: b.seed ?? undefined,
    stop: b.stop == null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop,
    stream: b.stream ?? false,
    includeUsage: b.stream_options?.include_usage ?? false,
    visdrop: b.visdrop ?? undefined,
  };
}
