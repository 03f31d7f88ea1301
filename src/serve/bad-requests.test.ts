// Every bad request the server must refuse before it queues (or, for an image that only fails to
// decode, when it runs): the status OpenAI's API gives, OpenAI's error object naming the field,
// and a server that goes on answering.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { DEMO_DATA_URL, DEMO_IMAGE, MODEL_ID, postChat, QUESTION, startServer, tinyModel, type RunningServer, type TinyModel } from './test-helpers.js';

const MAX_IMAGE_BYTES = 200_000;
const MAX_IMAGE_PIXELS = 1_000_000;

/** A PNG whose header declares width x height over a few bytes of data: a decompression bomb's header. */
function pngClaiming(width: number, height: number): Buffer {
  const crc32 = (bytes: Buffer) => {
    let c = ~0;
    for (const byte of bytes) {
      c ^= byte;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1000))), chunk('IEND', Buffer.alloc(0))]);
}

const dataUrl = (bytes: Buffer, type = 'image/png') => `data:${type};base64,${bytes.toString('base64')}`;
const withImage = (url: string, extra: Record<string, unknown> = {}) => ({
  model: MODEL_ID,
  max_tokens: 2,
  messages: [{ role: 'user', content: [{ type: 'text', text: QUESTION }, { type: 'image_url', image_url: { url } }] }],
  ...extra,
});
const IMAGE_PARAM = 'messages[0].content[1].image_url.url';

describe('visdrop serve refuses bad requests', () => {
  let tiny: TinyModel;
  let running: RunningServer;
  before(async () => {
    tiny = await tinyModel();
    running = await startServer(tiny.model, { maxTokens: 32, maxImageBytes: MAX_IMAGE_BYTES, maxImagePixels: MAX_IMAGE_PIXELS });
  });
  after(async () => {
    await running.server.shutdown(1000);
    await tiny.close();
  });

  async function refused(body: unknown, status: number, param: string | null, message?: RegExp, headers: Record<string, string> = {}) {
    const response = await postChat(running.baseUrl, body, headers);
    const payload = (await response.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    assert.equal(response.status, status, payload.error?.message);
    assert.equal(typeof payload.error.message, 'string');
    assert.equal(typeof payload.error.type, 'string');
    assert.equal(payload.error.param, param, payload.error.message);
    if (message) assert.match(payload.error.message, message);
    return payload.error;
  }

  it('refuses malformed bodies', async () => {
    await refused('{"model": ', 400, null);
    await refused('[1, 2]', 400, null, /JSON object/);
    await refused({ messages: [] }, 400, 'model');
    await refused({ model: MODEL_ID }, 400, 'messages');
    await refused({ model: MODEL_ID, messages: [] }, 400, 'messages');
    await refused({ model: MODEL_ID, messages: [{ role: 'robot', content: 'hi' }] }, 400, 'messages[0].role');
    await refused({ model: MODEL_ID, messages: [{ role: 'user', content: [{ type: 'audio', data: '' }] }] }, 400, 'messages[0].content[0].type');
    const response = await fetch(`${running.baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(response.status, 415);
  });

  it('refuses a body over the limit while it arrives', async () => {
    const error = await refused({ model: MODEL_ID, messages: [{ role: 'user', content: 'x'.repeat(2 ** 21) }] }, 413, null, /at most/);
    assert.equal(error.code, 'body_too_large');
  });

  it('refuses unknown models and routes', async () => {
    const error = await refused({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, 404, 'model', /gpt-4o/);
    assert.equal(error.code, 'model_not_found');
    assert.equal((await fetch(`${running.baseUrl}/v1/completions`, { method: 'POST' })).status, 404);
  });

  it('refuses sampling values out of range and parameters it cannot honour', async () => {
    const text = { model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }] };
    await refused({ ...text, max_tokens: 0 }, 400, 'max_tokens');
    await refused({ ...text, max_tokens: 33 }, 400, 'max_tokens', /at most 32/);
    await refused({ ...text, max_completion_tokens: 1.5 }, 400, 'max_completion_tokens');
    await refused({ ...text, temperature: 3 }, 400, 'temperature');
    await refused({ ...text, top_p: 0 }, 400, 'top_p');
    await refused({ ...text, seed: -1 }, 400, 'seed');
    await refused({ ...text, stop: ['a', 'b', 'c', 'd', 'e'] }, 400, 'stop');
    await refused({ ...text, n: 2 }, 400, 'n', /one choice/);
    await refused({ ...text, stream: 'yes' }, 400, 'stream');
  });

  it('refuses images it will not fetch or cannot read, naming the image field', async () => {
    await refused(withImage('https://example.com/cat.jpg'), 400, IMAGE_PARAM, /fetches nothing/);
    await refused(withImage('file:///etc/passwd'), 400, IMAGE_PARAM, /allow-local-files/);
    await refused(withImage('data:image/png;base64,@@@@'), 400, IMAGE_PARAM, /base64/);
    await refused(withImage('data:text/plain;base64,aGk='), 400, IMAGE_PARAM, /media type/);
    await refused(withImage('data:image/png;base64,'), 400, IMAGE_PARAM, /empty/);
    await refused(withImage(dataUrl(Buffer.from('not an image at all'))), 400, IMAGE_PARAM, /decode/);
    const two = withImage(DEMO_DATA_URL);
    two.messages[0]!.content.push({ type: 'image_url', image_url: { url: DEMO_DATA_URL } });
    await refused(two, 400, 'messages[0].content[2].image_url.url', /one image/);
  });

  it('refuses images over the byte and pixel limits without decoding them (decompression bombs)', async () => {
    const big = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    assert.ok(big.length > MAX_IMAGE_BYTES);
    assert.equal((await refused(withImage(dataUrl(big)), 413, IMAGE_PARAM, /bytes/)).code, 'image_too_large');
    const bomb = pngClaiming(60_000, 60_000);
    assert.ok(bomb.length < 2000, 'a few bytes claiming 3.6 billion pixels');
    const before = process.memoryUsage().rss;
    assert.equal((await refused(withImage(dataUrl(bomb)), 413, IMAGE_PARAM, /60000x60000/)).code, 'image_too_large');
    assert.ok(process.memoryUsage().rss - before < 100 * 2 ** 20, 'nothing the size of the image was allocated');
    const wide = await sharp({ create: { width: 1100, height: 1000, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    await refused(withImage(dataUrl(wide, 'image/jpeg')), 413, IMAGE_PARAM, /1100x1000/);
  });

  it('refuses an image whose header passes but whose data is truncated, when it runs', async () => {
    const jpeg = readFileSync(DEMO_IMAGE);
    await refused(withImage(dataUrl(jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'image/jpeg')), 400, IMAGE_PARAM, /decode|truncated|premature/i);
  });

  it('refuses bad visdrop options, naming the key', async () => {
    const image = (visdrop: unknown) => withImage(DEMO_DATA_URL, { visdrop });
    await refused(image({ reduce: 'tome' }), 400, 'visdrop.reduce', /fastv/);
    await refused(image({ reduce: 'fastv,pdrop' }), 400, 'visdrop.reduce', /one strategy/);
    await refused(image({ reduce: 'fastv', fastv_r: 'half' }), 400, 'visdrop.fastv_r');
    await refused(image({ reduce: 'fastv', fastv_k: 1.5 }), 400, 'visdrop.fastv_k', /whole number/);
    await refused(image({ reduce: 'pdrop', pdrop_layers: [1, 2, 9] }), 400, 'visdrop.pdrop_layers', /4 layers/);
    await refused(image({ reduce: 'pdrop', pdrop_layers: { a: 1 } }), 400, 'visdrop.pdrop_layers');
    await refused(image({ reduce: 'pdrop', fastv_k: 1 }), 400, 'visdrop.fastv_k');
    await refused(image({ reduce: 'mustdrop', mustdrop_budget: 100 }), 400, 'visdrop.mustdrop_budget');
    await refused(image({ reduce: 'fastv', fastv_k: 1, tome_r: 3 }), 400, 'visdrop.tome_r', /unknown/);
    await refused(image({ picture: 'yes' }), 400, 'visdrop.picture');
    await refused(image([1]), 400, 'visdrop');
    await refused({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }], visdrop: { reduce: 'fastv', fastv_k: 1 } }, 400, 'visdrop.reduce', /image/);
  });

  it('refuses a prompt longer than the context, image tokens included', async () => {
    const long = 'the cat sat on the mat '.repeat(600); // about 3600 tokens, + 576 image tokens > 4096
    const error = await refused(withImage(DEMO_DATA_URL, { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: DEMO_DATA_URL } }, { type: 'text', text: long }] }] }), 400, 'messages', /4096/);
    assert.equal(error.code, 'context_length_exceeded');
  });

  it('refuses a streamed request with a status code, not an event', async () => {
    await refused(withImage('data:image/png;base64,AAAA', { stream: true }), 400, IMAGE_PARAM);
  });

  it('is unharmed: it still answers, with nothing running or queued', async () => {
    const response = await postChat(running.baseUrl, withImage(DEMO_DATA_URL));
    assert.equal(response.status, 200);
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    assert.equal(typeof body.choices[0]!.message.content, 'string');
    const stats = running.server.stats();
    assert.equal(stats.running, 0);
    assert.equal(stats.queued, 0);
  });
});
