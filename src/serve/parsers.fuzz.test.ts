// Fuzzed request parsing (fast-check): chat request bodies (arbitrary JSON, and a valid body with
// fields replaced), the `visdrop` object, data: URLs, and image bytes (random, and a real PNG and
// JPEG with bytes flipped) through the header check and the decoder. Only ApiError (or, from the
// decoder, ImageError) comes out, and every call settles promptly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import sharp from 'sharp';
import { ImageError } from '../errors.js';
import { decodeImageBuffer } from '../image/index.js';
import { strategyOptionKeys } from '../cli/serve-command.js';
import { ApiError } from './api-error.js';
import { parseChatRequest } from './chat-request.js';
import { checkImageHeader, parseDataUrl } from './image-input.js';
import { chooseStrategy } from './strategy-options.js';
import { DEMO_DATA_URL, DEMO_IMAGE } from './test-helpers.js';

function only<T>(allowed: readonly (abstract new (...args: never[]) => Error)[], run: () => T): true {
  try {
    run();
  } catch (error) {
    if (!allowed.some((kind) => error instanceof kind)) assert.fail(`unexpected ${(error as Error)?.stack ?? String(error)}`);
  }
  return true;
}

async function onlyAsync(allowed: readonly (abstract new (...args: never[]) => Error)[], run: () => Promise<unknown>, withinMs = 2000): Promise<true> {
  const start = performance.now();
  try {
    await run();
  } catch (error) {
    if (!allowed.some((kind) => error instanceof kind)) assert.fail(`unexpected ${(error as Error)?.stack ?? String(error)}`);
  }
  assert.ok(performance.now() - start < withinMs, `took ${(performance.now() - start).toFixed(0)} ms`);
  return true;
}

const VALID = {
  model: 'tiny',
  max_tokens: 8,
  temperature: 0,
  stream: true,
  stream_options: { include_usage: true },
  stop: ['\n'],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'What is it?' }, { type: 'image_url', image_url: { url: DEMO_DATA_URL.slice(0, 100) } }] }],
  visdrop: { reduce: 'pdrop', pdrop_layers: [1, 2, 3] },
};

describe('request parsers under fuzzing', () => {
  it('chat request bodies: arbitrary JSON and a valid body with fields replaced', () => {
    fc.assert(fc.property(fc.jsonValue(), (body) => only([ApiError], () => parseChatRequest(body))), { numRuns: 300 });
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom(null, [], {}, '', -1, 1e308, [{}], [{ role: 'user' }], [{ role: 'user', content: [] }]));
    const field = fc.constantFrom(...Object.keys(VALID), 'n', 'logprobs', 'tools', 'top_p', 'seed', 'max_completion_tokens');
    fc.assert(fc.property(field, value, (key, v) => only([ApiError], () => parseChatRequest({ ...VALID, [key]: v }))), { numRuns: 300 });
    const part = fc.oneof(fc.jsonValue(), fc.record({ type: fc.constantFrom('text', 'image_url'), text: fc.jsonValue(), image_url: fc.jsonValue() }));
    fc.assert(fc.property(fc.array(part, { maxLength: 4 }), (content) => only([ApiError], () => parseChatRequest({ ...VALID, messages: [{ role: 'user', content }] }))), { numRuns: 200 });
  });

  it('the visdrop object', () => {
    const keys = strategyOptionKeys();
    const key = fc.oneof(fc.constantFrom('reduce', 'picture', ...keys.map((k) => k.key)), fc.string({ maxLength: 12 }));
    const value = fc.oneof(fc.jsonValue(), fc.constantFrom('fastv', 'pdrop', 'mustdrop', 'none', 'mustdrop-vision+pdrop', [1, 2, 3], [8, 16, 24], 0.5, 192, 64, true));
    fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 4 }), (visdrop) => only([ApiError], () => chooseStrategy(visdrop, keys, {}, 4))), { numRuns: 300 });
  });

  it('data: URLs', () => {
    const url = fc.oneof(
      fc.string(),
      fc.string().map((s) => `data:${s}`),
      fc.tuple(fc.constantFrom('image/png', 'image/jpeg', '', 'text/html'), fc.constantFrom(';base64', '', ';charset=utf-8;base64'), fc.string()).map(([type, enc, data]) => `data:${type}${enc},${data}`),
      fc.uint8Array({ maxLength: 64 }).map((b) => `data:image/png;base64,${Buffer.from(b).toString('base64')}`),
    );
    fc.assert(fc.property(url, (u) => only([ApiError], () => parseDataUrl(u, 'url', 1000))), { numRuns: 500 });
  });

  it('image bytes: random, and a real PNG and JPEG with bytes flipped, through the header check and the decoder', async () => {
    const jpeg = readFileSync(DEMO_IMAGE);
    const png = await sharp(jpeg).resize(64, 48).png().toBuffer();
    const flipped = fc.tuple(fc.constantFrom(png, jpeg.subarray(0, 4000)), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([base, flips]) => {
      const bytes = Buffer.from(base);
      for (const [at, v] of flips) bytes[at % bytes.length] = v;
      return bytes;
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), flipped), async (bytes) => {
        await onlyAsync([ApiError], () => checkImageHeader(bytes, 'image', 1_000_000));
        return onlyAsync([ImageError], () => decodeImageBuffer(bytes, 'image', { maxPixels: 1_000_000 }));
      }),
      { numRuns: 150 },
    );
  });
});
