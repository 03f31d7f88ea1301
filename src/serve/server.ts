// The HTTP server: fastify routes over one loaded model. POST /v1/chat/completions (validated, then
// queued, then generated, streamed or not), GET /v1/models, GET /health, and the page at /. Every
// refusal is OpenAI's error object with its status; a client that goes away aborts its request
// (it leaves the queue, or its generation stops within a step and frees the slot); shutdown()
// refuses new work and lets admitted work finish until a deadline, then aborts it.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { LlavaModel } from '../generate/model.js';
import { STRATEGY_NAMES } from '../reduce/registry.js';
import { ApiError, toApiError } from './api-error.js';
import { prepareCompletion, runCompletion, type CompletionSettings } from './completion.js';
import { chunkBody, completionBody, completionId, sseEvent, usageChunkBody, usageOf, type Identity } from './openai-shapes.js';
import { RequestScheduler, type SchedulerLimits } from './scheduler.js';
import { REPORT_KEYS } from './strategy-options.js';

export interface ServerOptions extends CompletionSettings, SchedulerLimits {
  /** Required as `Authorization: Bearer <key>` on /v1/*, when set. */
  readonly apiKey?: string;
  /** Largest request body; larger ones are refused (413) while they arrive. */
  readonly maxBodyBytes: number;
  /** Told about server faults (500s): default console.error. */
  readonly onFault?: (error: unknown) => void;
}

/** What the server counted, for /health and the load test. */
export interface ServerStats {
  readonly running: number;
  readonly queued: number;
  readonly completed: number;
  /** Requests aborted because their client went away. */
  readonly disconnected: number;
  /** Refusals by status and code, e.g. `429 queue_full`. */
  readonly rejected: Readonly<Record<string, number>>;
}

/** The abort reason of a request whose client closed the connection. */
class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
  }
}

const PAGE_DIR = new URL('../../assets/page/', import.meta.url);
const PAGE_FILES: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/page.js': 'page.js',
  '/page.css': 'page.css',
};
const CONTENT_TYPES: Readonly<Record<string, string>> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export class VisdropServer {
  readonly app: FastifyInstance;
  private readonly scheduler: RequestScheduler;
  /** Admitted requests' abort controllers, with the handler's promise to wait for on shutdown. */
  private readonly inFlight = new Map<AbortController, Promise<void>>();
  private completed = 0;
  private disconnected = 0;
  private readonly rejected: Record<string, number> = {};

  constructor(
    readonly model: LlavaModel,
    readonly options: ServerOptions,
  ) {
    this.scheduler = new RequestScheduler(options);
    this.app = Fastify({ bodyLimit: options.maxBodyBytes, logger: false });
    // JSON only: other media types get 415.
    this.app.removeContentTypeParser('text/plain');
    const pages = Object.fromEntries(Object.entries(PAGE_FILES).map(([route, file]) => [route, readFileSync(new URL(file, PAGE_DIR), 'utf8')]));
    this.app.setErrorHandler((error, _request, reply) => this.sendError(reply, this.fromFastify(error)));
    this.app.setNotFoundHandler((request, reply) =>
      this.sendError(reply, new ApiError(404, 'not_found_error', `${request.method} ${request.url}: expected one of GET /, GET /health, GET /v1/models, POST /v1/chat/completions, found no such route`, null, 'unknown_route')),
    );
    if (options.apiKey !== undefined) {
      const expected = sha256(`Bearer ${options.apiKey}`);
      this.app.addHook('onRequest', async (request) => {
        if (!request.url.startsWith('/v1/')) return;
        const given = sha256(request.headers.authorization ?? '');
        if (!timingSafeEqual(given, expected)) {
          throw new ApiError(401, 'authentication_error', `Authorization: expected "Bearer <the server's --api-key>", found ${request.headers.authorization ? 'another key' : 'no header'}`, null, 'invalid_api_key');
        }
      });
    }
    for (const [route, file] of Object.entries(PAGE_FILES)) {
      this.app.get(route, (_request, reply) => reply.type(CONTENT_TYPES[file.split('.').pop()!]!).send(pages[route]));
    }
    this.app.get('/health', async () => ({ status: 'ok', model: options.modelId, running: this.scheduler.active, queued: this.scheduler.queued }));
    this.app.get('/v1/models', async () => ({ object: 'list', data: [this.modelEntry()] }));
    this.app.get<{ Params: { id: string } }>('/v1/models/:id', async (request) => {
      if (request.params.id !== options.modelId) throw new ApiError(404, 'invalid_request_error', `model: expected ${JSON.stringify(options.modelId)}, found ${JSON.stringify(request.params.id)}`, 'model', 'model_not_found');
      return this.modelEntry();
    });
    this.app.post('/v1/chat/completions', (request, reply) => {
      const controller = new AbortController();
      const handled = this.chatCompletion(request, reply, controller).finally(() => this.inFlight.delete(controller));
      this.inFlight.set(controller, handled);
      return handled;
    });
  }

  stats(): ServerStats {
    return { running: this.scheduler.active, queued: this.scheduler.queued, completed: this.completed, disconnected: this.disconnected, rejected: { ...this.rejected } };
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    await this.app.listen({ host, port });
    return this.app.server.address() as AddressInfo;
  }

  /**
   * Refuses new work; admitted requests may finish for `deadlineMs`, then are aborted. Resolves
   * when every request has settled (a generation whose client left included), so the model can be
   * released after it.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.scheduler.close(false);
    const timer = setTimeout(() => {
      for (const controller of this.inFlight.keys()) controller.abort(new ApiError(503, 'service_unavailable', 'the server shut down before this request finished', null, 'shutting_down'));
    }, deadlineMs);
    try {
      await this.app.close();
      await Promise.allSettled([...this.inFlight.values()]);
    } finally {
      clearTimeout(timer);
    }
  }

  private modelEntry() {
    return {
      id: this.options.modelId,
      object: 'model',
      created: Math.floor(Date.now() / 1000),
      owned_by: 'visdrop',
      visdrop: { strategies: STRATEGY_NAMES, option_keys: ['reduce', ...this.options.strategyKeys.map((k) => k.key), ...REPORT_KEYS], max_tokens: this.options.maxTokens },
    };
  }

  private fromFastify(error: unknown): ApiError {
    if (error instanceof ApiError) return error;
    const e = error as { statusCode?: number; code?: string; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return new ApiError(413, 'invalid_request_error', `request body: expected at most ${this.options.maxBodyBytes} bytes, found more`, null, 'body_too_large');
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return new ApiError(e.statusCode, 'invalid_request_error', `request body: ${e.message ?? 'malformed'}`, null, e.code ?? null);
    }
    return toApiError(error);
  }

  private count(error: ApiError): void {
    const key = `${error.status} ${error.code ?? error.type}`;
    this.rejected[key] = (this.rejected[key] ?? 0) + 1;
    if (error.status >= 500 && error.code !== 'shutting_down') (this.options.onFault ?? console.error)(error);
  }

  private sendError(reply: FastifyReply, error: ApiError): FastifyReply {
    this.count(error);
    return reply.code(error.status).headers(error.headers).send(error.body());
  }

  private async chatCompletion(request: FastifyRequest, reply: FastifyReply, controller: AbortController): Promise<void> {
    const raw: ServerResponse = reply.raw;
    const onClose = () => {
      if (!raw.writableFinished) controller.abort(new ClientGone());
    };
    raw.on('close', onClose);
    const arrived = performance.now();
    let release: (() => void) | undefined;
    let streaming = false;
    try {
      const prepared = await prepareCompletion(this.model, request.body, this.options);
      release = await this.scheduler.acquire(controller.signal);
      const queueMs = performance.now() - arrived;
      const identity: Identity = { id: completionId(), created: Math.floor(Date.now() / 1000), model: this.options.modelId };
      if (!prepared.chat.stream) {
        const result = await runCompletion(this.model, prepared, this.options, { signal: controller.signal, queueMs });
        this.completed++;
        await reply.send(completionBody(identity, result));
        return;
      }
      const includeUsage = prepared.chat.includeUsage;
      reply.hijack();
      streaming = true;
      let headersSent = false;
      const write = (data: unknown) => {
        if (!headersSent) {
          raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
          raw.write(sseEvent(chunkBody(identity, { role: 'assistant', content: '' }, null, includeUsage)));
          headersSent = true;
        }
        if (data !== undefined) raw.write(sseEvent(data));
      };
      try {
        const result = await runCompletion(this.model, prepared, this.options, {
          signal: controller.signal,
          queueMs,
          // Headers go out with the prefill, so a bad image or prompt still gets its status code.
          onPrefill: () => write(undefined),
          onText: (text) => write(chunkBody(identity, { content: text }, null, includeUsage)),
        });
        write(chunkBody(identity, {}, result.finishReason, includeUsage, result.report));
        if (includeUsage) write(usageChunkBody(identity, usageOf(result)));
        write('[DONE]');
        raw.end();
        this.completed++;
      } catch (error) {
        if (error instanceof ClientGone) throw error;
        const apiError = toApiError(error);
        this.count(apiError);
        if (headersSent) {
          // Mid-stream: the status is already 200; OpenAI's servers send the error object as an event.
          raw.end(sseEvent(apiError.body()));
        } else {
          raw.writeHead(apiError.status, { 'content-type': 'application/json; charset=utf-8', ...apiError.headers });
          raw.end(JSON.stringify(apiError.body()));
        }
      }
    } catch (error) {
      if (error instanceof ClientGone) {
        this.disconnected++;
        if (!streaming) reply.hijack();
        raw.destroy();
        return;
      }
      if (streaming) throw error;
      this.sendError(reply, toApiError(error));
    } finally {
      release?.();
      raw.off('close', onClose);
    }
  }
}

export function createServer(model: LlavaModel, options: ServerOptions): VisdropServer {
  return new VisdropServer(model, options);
}
