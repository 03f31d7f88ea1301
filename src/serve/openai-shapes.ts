// Response bodies in OpenAI's chat-completions shapes: the completion object, the stream's chunk
// objects (a role chunk, content chunks, a finish chunk, with stream_options.include_usage a last
// chunk with no choices and the usage, every earlier one with `usage: null`), and the model list.
// visdrop's report rides along as a `visdrop` field, which OpenAI's clients keep and ignore.
import { randomBytes } from 'node:crypto';
import type { CompletionReport, CompletionResult } from './completion.js';

export function completionId(): string {
  return `chatcmpl-${randomBytes(12).toString('hex')}`;
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

export function usageOf(result: CompletionResult): Usage {
  return { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens, total_tokens: result.promptTokens + result.completionTokens };
}

export interface Identity {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

export function completionBody(identity: Identity, result: CompletionResult) {
  return {
    ...identity,
    object: 'chat.completion',
    system_fingerprint: null,
    choices: [{ index: 0, message: { role: 'assistant', content: result.text, refusal: null }, logprobs: null, finish_reason: result.finishReason }],
    usage: usageOf(result),
    visdrop: result.report,
  };
}

type Delta = { readonly role?: 'assistant'; readonly content?: string };

export function chunkBody(
  identity: Identity,
  delta: Delta,
  finishReason: 'stop' | 'length' | null,
  includeUsage: boolean,
  report?: CompletionReport,
) {
  return {
    ...identity,
    object: 'chat.completion.chunk',
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
    ...(report ? { visdrop: report } : {}),
  };
}

export function usageChunkBody(identity: Identity, usage: Usage) {
  return { ...identity, object: 'chat.completion.chunk', system_fingerprint: null, choices: [], usage };
}

/** One server-sent event carrying `data`. */
export function sseEvent(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}
