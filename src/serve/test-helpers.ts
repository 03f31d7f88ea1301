// Shared by the server's tests: the tiny seeded checkpoint loaded once per file, a server built
// as `visdrop serve` builds it (the CLI's option table and reporting) on an ephemeral loopback
// port, an `openai` client for it, and the demo picture as a data: URL.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { loadModel, type LlavaModel } from '../generate/model.js';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { serverOptions } from '../cli/serve-command.js';
import { createServer, type VisdropServer } from './server.js';

export const DEMO_IMAGE = join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg');
export const DEMO_DATA_URL = `data:image/jpeg;base64,${readFileSync(DEMO_IMAGE).toString('base64')}`;
export const MODEL_ID = 'tiny';
export const QUESTION = 'What is in the picture?';

export interface TinyModel {
  readonly dir: string;
  readonly model: LlavaModel;
  close(): Promise<void>;
}

export async function tinyModel(): Promise<TinyModel> {
  const dir = mkdtempSync(join(tmpdir(), 'visdrop-serve-'));
  await makeTinyCheckpoint({ outDir: dir, seed: 0 });
  const model = await loadModel(dir);
  return {
    dir,
    model,
    async close() {
      await model.release();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunningServer {
  readonly server: VisdropServer;
  readonly baseUrl: string;
  readonly client: OpenAI;
}

export async function startServer(model: LlavaModel, settings: Parameters<typeof serverOptions>[1] = {}): Promise<RunningServer> {
  const server = createServer(model, serverOptions(model, { modelId: MODEL_ID, ...settings }));
  const { port } = await server.listen('127.0.0.1', 0);
  const baseUrl = `http://127.0.0.1:${port}`;
  // No retries: a 429 or 5xx must reach the test as it came.
  const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: settings.apiKey ?? 'none', maxRetries: 0 });
  return { server, baseUrl, client };
}

/** A user turn with the demo picture and a question, as OpenAI's clients send it. */
export function imageQuestion(question = QUESTION, url = DEMO_DATA_URL): OpenAI.Chat.ChatCompletionMessageParam[] {
  return [{ role: 'user', content: [{ type: 'text', text: question }, { type: 'image_url', image_url: { url } }] }];
}

/** POSTs `body` (an object, or raw text) to the chat endpoint. */
export async function postChat(baseUrl: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
