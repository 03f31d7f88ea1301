// The server against the official `openai` client on the tiny model: answers equal `generate`'s
// for the same seed, streamed or not; the request lmms-eval's OpenAI model sends; the visdrop
// report (kept counts, FLOPs ratio, the picture); models, health, the API key; local files only
// under --allow-local-files; shutdown refuses new work and stops admitted work at its deadline.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import OpenAI from 'openai';
import sharp from 'sharp';
import { pyramidDrop } from '../reduce/pyramid-drop.js';
import type { GenerateRequest } from '../generate/model.js';
import { DEMO_DATA_URL, DEMO_IMAGE, imageQuestion, MODEL_ID, postChat, QUESTION, startServer, tinyModel, type RunningServer, type TinyModel } from './test-helpers.js';
import type { CompletionReport } from './completion.js';

describe('visdrop serve with the openai client', () => {
  let tiny: TinyModel;
  let running: RunningServer;
  before(async () => {
    tiny = await tinyModel();
    running = await startServer(tiny.model, { maxTokens: 64 });
  });
  after(async () => {
    await running.server.shutdown(1000);
    await tiny.close();
  });

  /** The text `generate` gives for the demo picture and `request`'s settings. */
  async function generated(request: Omit<GenerateRequest, 'image' | 'prompt'>): Promise<{ text: string; tokens: number }> {
    for await (const event of tiny.model.generate({ image: readFileSync(DEMO_IMAGE), prompt: QUESTION, ...request })) {
      if (event.type === 'done') return { text: event.text, tokens: event.tokens.length };
    }
    throw new Error('no done event');
  }

  it('answers as generate does, greedy and sampled with a seed', async () => {
    for (const sampling of [{ temperature: 0 }, { temperature: 0.9, top_p: 0.9, seed: 1234 }]) {
      const completion = await running.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(), max_tokens: 12, ...sampling });
      const expected = await generated({ maxNewTokens: 12, temperature: sampling.temperature, ...('seed' in sampling ? { topP: sampling.top_p, seed: sampling.seed } : {}) });
      assert.equal(completion.choices[0]!.message.content, expected.text);
      assert.equal(completion.choices[0]!.message.role, 'assistant');
      assert.equal(completion.object, 'chat.completion');
      assert.equal(completion.model, MODEL_ID);
      assert.equal(completion.usage!.completion_tokens, expected.tokens);
      // 576 image tokens replace the one marker among the prompt's 19 ids.
      assert.equal(completion.usage!.prompt_tokens, 19 - 1 + 576);
      assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + expected.tokens);
      assert.ok(['stop', 'length'].includes(completion.choices[0]!.finish_reason));
    }
  });

  it('streams the same answer in OpenAI chunks, with usage last when asked', async () => {
    const stream = await running.client.chat.completions.create({
      model: MODEL_ID,
      messages: imageQuestion(),
      max_tokens: 10,
      temperature: 0.7,
      seed: 7,
      stream: true,
      stream_options: { include_usage: true },
      visdrop: { reduce: 'fastv', fastv_k: 1, fastv_r: 0.75 },
    } as OpenAI.Chat.ChatCompletionCreateParamsStreaming);
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const expected = await generated({ maxNewTokens: 10, temperature: 0.7, seed: 7, reduce: (await import('../reduce/fastv.js')).fastV({ k: 1, r: 0.75 }) });
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), expected.text);
    const finish = chunks.at(-2)!;
    assert.equal(finish.choices[0]!.finish_reason, 'length');
    const report = (finish as unknown as { visdrop: CompletionReport }).visdrop;
    assert.equal(report.strategy, 'fastv');
    assert.deepEqual(report.kept_image_tokens, [144]);
    const usage = chunks.at(-1)!;
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage!.completion_tokens, 10);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    assert.ok(new Set(chunks.map((c) => c.id)).size === 1 && chunks[0]!.id.startsWith('chatcmpl-'));
  });

  it("takes the request lmms-eval's OpenAI model sends (base64 PNG data URL, max_tokens, temperature 0)", async () => {
    const png = await sharp(DEMO_IMAGE).png().toBuffer();
    // lmms-eval posts this body with an `Authorization: Bearer` header, text first, then the image.
    const response = await postChat(
      running.baseUrl,
      {
        model: MODEL_ID,
        messages: [{ role: 'user', content: [{ type: 'text', text: QUESTION }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}` } }] }],
        max_tokens: 8,
        temperature: 0,
      },
      { authorization: 'Bearer EMPTY' },
    );
    assert.equal(response.status, 200);
    const body = (await response.json()) as OpenAI.Chat.ChatCompletion;
    let expected = '';
    for await (const event of tiny.model.generate({ image: png, prompt: QUESTION, maxNewTokens: 8 })) if (event.type === 'done') expected = event.text;
    assert.equal(body.choices[0]!.message.content, expected);
  });

  it('reports the strategy, kept tokens per stage, the FLOPs ratio, timings and the picture', async () => {
    const completion = (await running.client.chat.completions.create({
      model: MODEL_ID,
      messages: imageQuestion(),
      max_tokens: 4,
      visdrop: { reduce: 'pdrop', pdrop_layers: [1, 2, 3], pdrop_ratios: [0.5, 0.25, 0.125], picture: true },
    } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)) as OpenAI.Chat.ChatCompletion & { visdrop: CompletionReport };
    const expected = await generated({ maxNewTokens: 4, reduce: pyramidDrop({ layers: [1, 2, 3], ratios: [0.5, 0.25, 0.125] }) });
    assert.equal(completion.choices[0]!.message.content, expected.text);
    const report = completion.visdrop;
    assert.equal(report.strategy, 'pdrop');
    assert.equal(report.image_tokens, 576);
    assert.deepEqual(report.stages, [
      { after_layer: 1, kept_image_tokens: 288 },
      { after_layer: 2, kept_image_tokens: 144 },
      { after_layer: 3, kept_image_tokens: 72 },
    ]);
    assert.ok(report.flops_ratio !== null && report.flops_ratio > 0.3 && report.flops_ratio < 1, `flops ratio ${report.flops_ratio}`);
    for (const key of ['queue_ms', 'vision_ms', 'prefill_ms', 'decode_ms_per_token', 'total_ms'] as const) assert.ok(report.timings[key] >= 0);
    const picture = await sharp(Buffer.from(report.picture!.replace(/^data:image\/png;base64,/, ''), 'base64')).metadata();
    assert.equal(picture.format, 'png');
    assert.ok(picture.width! > 3 * 336, 'three stage panels side by side');
  });

  it('uses the server default strategy when the request names none, and none when asked', async () => {
    const withDefault = await startServer(tiny.model, { reduce: 'fastv', fastvK: 1 });
    try {
      const body = (await withDefault.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(), max_tokens: 2 })) as OpenAI.Chat.ChatCompletion & { visdrop: CompletionReport };
      assert.equal(body.visdrop.strategy, 'fastv');
      assert.deepEqual(body.visdrop.kept_image_tokens, [288]);
      const none = (await withDefault.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(), max_tokens: 2, visdrop: { reduce: 'none' } } as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)) as OpenAI.Chat.ChatCompletion & { visdrop: CompletionReport };
      assert.equal(none.visdrop.strategy, 'none');
      assert.equal(none.visdrop.flops_ratio, 1);
    } finally {
      await withDefault.server.shutdown(1000);
    }
  });

  it('answers text-only conversations with system and assistant turns, and stops at a stop string', async () => {
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi.' },
      { role: 'user', content: 'Name a colour.' },
    ];
    const full = await running.client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 8 });
    const text = full.choices[0]!.message.content!;
    assert.ok(text.length > 3);
    const stop = text.slice(2, 4);
    const stopped = await running.client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 8, stop });
    assert.equal(stopped.choices[0]!.finish_reason, 'stop');
    assert.equal(stopped.choices[0]!.message.content, text.slice(0, text.indexOf(stop)));
  });

  it('lists the model and answers /health', async () => {
    const models = await running.client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), [MODEL_ID]);
    assert.equal((await running.client.models.retrieve(MODEL_ID)).id, MODEL_ID);
    const health = await (await fetch(`${running.baseUrl}/health`)).json();
    assert.deepEqual(health, { status: 'ok', model: MODEL_ID, running: 0, queued: 0 });
  });

  it('requires the API key as a Bearer token when it has one', async () => {
    const guarded = await startServer(tiny.model, { apiKey: 'sesame' });
    try {
      const wrong = new OpenAI({ baseURL: `${guarded.baseUrl}/v1`, apiKey: 'open', maxRetries: 0 });
      await assert.rejects(wrong.models.list(), (error: unknown) => error instanceof OpenAI.AuthenticationError && error.status === 401);
      const missing = await fetch(`${guarded.baseUrl}/v1/models`);
      assert.equal(missing.status, 401);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'invalid_api_key');
      assert.equal((await guarded.client.models.list()).data.length, 1);
      assert.equal((await fetch(`${guarded.baseUrl}/health`)).status, 200);
    } finally {
      await guarded.server.shutdown(1000);
    }
  });

  it('reads file:// images only under --allow-local-files', async () => {
    const allowed = mkdtempSync(join(tmpdir(), 'visdrop-allowed-'));
    copyFileSync(DEMO_IMAGE, join(allowed, 'demo.jpg'));
    const local = await startServer(tiny.model, { allowLocalFiles: allowed });
    try {
      const inside = await local.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(QUESTION, pathToFileURL(join(allowed, 'demo.jpg')).href), max_tokens: 3 });
      const viaData = await local.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(QUESTION, DEMO_DATA_URL), max_tokens: 3 });
      assert.equal(inside.choices[0]!.message.content, viaData.choices[0]!.message.content);
      for (const url of [pathToFileURL(DEMO_IMAGE).href, pathToFileURL(join(allowed, '..', 'elsewhere.jpg')).href, `${pathToFileURL(allowed).href}/../${'x'}`]) {
        await assert.rejects(local.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(QUESTION, url), max_tokens: 3 }), (error: unknown) => {
          return error instanceof OpenAI.APIError && (error.status === 400 || error.status === 403) && error.param === 'messages[0].content[1].image_url.url';
        });
      }
      // Without the flag no file is read.
      await assert.rejects(running.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(QUESTION, pathToFileURL(join(allowed, 'demo.jpg')).href), max_tokens: 3 }), OpenAI.BadRequestError);
    } finally {
      await local.server.shutdown(1000);
      rmSync(allowed, { recursive: true, force: true });
    }
  });

  it('on shutdown refuses new work and stops admitted work at the deadline', async () => {
    const stopping = await startServer(tiny.model, { maxTokens: 10_000 });
    const stream = await stopping.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(), max_tokens: 10_000, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const shutdown = stopping.server.shutdown(300);
    await assert.rejects(fetch(`${stopping.baseUrl}/health`));
    // The stream ends with OpenAI's error event before its 10 000 tokens, and the server closes.
    await assert.rejects(async () => {
      for (let next = await iterator.next(); !next.done; next = await iterator.next());
    }, (error: unknown) => error instanceof OpenAI.APIError && /shut down/.test(error.message));
    await shutdown;
    assert.equal(stopping.server.stats().running, 0);
  });
});
