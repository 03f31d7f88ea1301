// A bounded load generator for the server, on loopback: `requests` chat requests from `clients`
// concurrent clients, a mix of plain, streamed, streamed-then-abandoned (the client disconnects
// after the first content chunk) and oversized ones. Each outcome is recorded; the summary gives
// latency percentiles, time to first token and refusals by status and code. Used by the load test
// and by tools/serve-load.ts for measured runs.

export type RequestKind = 'plain' | 'stream' | 'disconnect' | 'oversized';

export interface LoadOptions {
  readonly baseUrl: string;
  readonly model: string;
  readonly requests: number;
  readonly clients: number;
  readonly maxTokens: number;
  /** A data: URL sent with every other request (the rest are text only). */
  readonly imageUrl: string;
  /** A data: URL over the server's --max-image-bytes, for the oversized requests. */
  readonly oversizedImageUrl: string;
  /** The kind of request i (default: a fixed rotation with one in ten disconnecting and one in ten oversized). */
  readonly kindOf?: (i: number) => RequestKind;
  readonly apiKey?: string;
  /** A client refused with 429 waits this long before its next request (default 0). */
  readonly backoffMs?: number;
}

export interface Outcome {
  readonly kind: RequestKind;
  readonly status: number;
  /** Error code of a refusal (OpenAI's error.code), or null. */
  readonly code: string | null;
  readonly retryAfter: string | null;
  /** From sending the request to the end of its answer (or of the refusal). */
  readonly latencyMs: number;
  /** Streams: from sending to the first content chunk. */
  readonly firstTokenMs: number | null;
  /** An accepted request's answer arrived whole: finish_reason, and for streams `[DONE]`. */
  readonly complete: boolean;
}

export interface LoadSummary {
  readonly requests: number;
  readonly clients: number;
  readonly wallMs: number;
  readonly completed: number;
  readonly disconnected: number;
  readonly rejected: Readonly<Record<string, number>>;
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly max: number };
  readonly firstTokenMs: { readonly p50: number; readonly p95: number } | null;
}

const ROTATION: readonly RequestKind[] = ['stream', 'plain', 'stream', 'plain', 'disconnect', 'stream', 'plain', 'stream', 'plain', 'oversized'];

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function body(options: LoadOptions, i: number, kind: RequestKind): string {
  const image = kind === 'oversized' ? options.oversizedImageUrl : i % 2 === 0 ? options.imageUrl : null;
  const question = `Question ${i}: what is in the picture?`;
  return JSON.stringify({
    model: options.model,
    max_tokens: options.maxTokens,
    // Abandoned streams ask for many tokens, so only the disconnect can end them early.
    ...(kind === 'disconnect' ? { max_tokens: options.maxTokens * 8 } : {}),
    ...(kind === 'stream' || kind === 'disconnect' ? { stream: true, stream_options: { include_usage: true } } : {}),
    messages: [{ role: 'user', content: image ? [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: question }] : question }],
  });
}

async function one(options: LoadOptions, i: number, kind: RequestKind): Promise<Outcome> {
  const start = performance.now();
  const controller = new AbortController();
  const response = await fetch(`${options.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
    body: body(options, i, kind),
    signal: controller.signal,
  });
  if (response.status !== 200) {
    const payload = (await response.json()) as { error?: { code?: string | null } };
    return { kind, status: response.status, code: payload.error?.code ?? null, retryAfter: response.headers.get('retry-after'), latencyMs: performance.now() - start, firstTokenMs: null, complete: false };
  }
  if (kind === 'plain') {
    const payload = (await response.json()) as { choices?: { finish_reason?: string }[] };
    const complete = typeof payload.choices?.[0]?.finish_reason === 'string';
    return { kind, status: 200, code: null, retryAfter: null, latencyMs: performance.now() - start, firstTokenMs: null, complete };
  }
  let firstTokenMs: number | null = null;
  let finished = false;
  let done = false;
  let buffer = '';
  const decoder = new TextDecoder();
  try {
    for await (const bytes of response.body!) {
      buffer += decoder.decode(bytes as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).replace(/^data: /, '');
        buffer = buffer.slice(end + 2);
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as { choices: { delta?: { content?: string }; finish_reason?: string | null }[] };
        if (chunk.choices[0]?.delta?.content && firstTokenMs === null) {
          firstTokenMs = performance.now() - start;
          if (kind === 'disconnect') controller.abort();
        }
        if (chunk.choices[0]?.finish_reason) finished = true;
      }
    }
  } catch (error) {
    if (!(kind === 'disconnect' && controller.signal.aborted)) throw error;
  }
  return { kind, status: 200, code: null, retryAfter: null, latencyMs: performance.now() - start, firstTokenMs, complete: finished && done };
}

/** Runs the load; every request's outcome, in the order they were sent. */
export async function runLoad(options: LoadOptions): Promise<Outcome[]> {
  const kindOf = options.kindOf ?? ((i: number) => ROTATION[i % ROTATION.length]!);
  const outcomes: Outcome[] = new Array(options.requests);
  let next = 0;
  const client = async () => {
    for (let i = next++; i < options.requests; i = next++) {
      outcomes[i] = await one(options, i, kindOf(i));
      if (outcomes[i]!.status === 429 && options.backoffMs) await new Promise((resolve) => setTimeout(resolve, options.backoffMs));
    }
  };
  await Promise.all(Array.from({ length: options.clients }, client));
  return outcomes;
}

export function summarize(outcomes: readonly Outcome[], clients: number, wallMs: number): LoadSummary {
  const accepted = outcomes.filter((o) => o.status === 200);
  const answered = accepted.filter((o) => o.kind !== 'disconnect');
  const rejected: Record<string, number> = {};
  for (const o of outcomes.filter((o) => o.status !== 200)) rejected[`${o.status} ${o.code}`] = (rejected[`${o.status} ${o.code}`] ?? 0) + 1;
  const firstTokens = answered.flatMap((o) => (o.firstTokenMs === null ? [] : [o.firstTokenMs]));
  const latencies = answered.map((o) => o.latencyMs);
  return {
    requests: outcomes.length,
    clients,
    wallMs,
    completed: answered.filter((o) => o.complete).length,
    disconnected: accepted.length - answered.length,
    rejected,
    latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: Math.max(...latencies) },
    firstTokenMs: firstTokens.length ? { p50: percentile(firstTokens, 50), p95: percentile(firstTokens, 95) } : null,
  };
}
