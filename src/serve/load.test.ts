// A bounded load test on loopback: 50 requests from 8 concurrent clients against one slot and a
// queue of 4, some streams abandoned mid-answer, some images oversized. Afterwards every accepted
// request got a whole answer, every refusal a proper status (429 with Retry-After, 413), nothing
// is running or queued, and memory is back near where it started. A client that disconnects
// mid-stream frees the slot within a decode step.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { DEMO_DATA_URL, MODEL_ID, postChat, startServer, tinyModel, type RunningServer, type TinyModel } from './test-helpers.js';
import { runLoad, summarize } from './load-client.js';

const MAX_IMAGE_BYTES = 100_000;

describe('visdrop serve under load', () => {
  let tiny: TinyModel;
  let running: RunningServer;
  before(async () => {
    tiny = await tinyModel();
    running = await startServer(tiny.model, { maxConcurrency: 1, maxQueue: 4, maxTokens: 512, maxImageBytes: MAX_IMAGE_BYTES });
  });
  after(async () => {
    await running.server.shutdown(1000);
    await tiny.close();
  });

  it('frees the slot at once when a streaming client disconnects', async () => {
    const controller = new AbortController();
    const response = await postChat(running.baseUrl, { model: MODEL_ID, max_tokens: 500, stream: true, messages: [{ role: 'user', content: 'Tell a long story.' }] });
    const reader = response.body!.getReader();
    await reader.read(); // the role chunk: generation is under way
    assert.equal(running.server.stats().running, 1);
    await reader.cancel();
    controller.abort();
    const start = performance.now();
    while (running.server.stats().running > 0) {
      assert.ok(performance.now() - start < 2000, 'the slot was not freed within 2 s');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(running.server.stats().disconnected >= 1);
  });

  it('answers every accepted request of 50 from 8 clients, refuses the rest properly, and recovers', async (t) => {
    const noise = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    assert.ok(noise.length > MAX_IMAGE_BYTES);
    // Warm up (first-run allocations), then measure memory around the load.
    await postChat(running.baseUrl, { model: MODEL_ID, max_tokens: 4, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: DEMO_DATA_URL } }, { type: 'text', text: 'hi' }] }] });
    const rssBefore = process.memoryUsage().rss;
    const start = performance.now();
    const outcomes = await runLoad({
      baseUrl: running.baseUrl,
      model: MODEL_ID,
      requests: 50,
      clients: 8,
      maxTokens: 6,
      imageUrl: DEMO_DATA_URL,
      oversizedImageUrl: `data:image/png;base64,${noise.toString('base64')}`,
      backoffMs: 300,
    });
    const summary = summarize(outcomes, 8, performance.now() - start);
    t.diagnostic(JSON.stringify(summary));
    for (const o of outcomes) {
      if (o.kind === 'oversized') assert.equal(o.status, 413);
      else if (o.status === 429) assert.ok(Number(o.retryAfter) >= 1, 'a 429 says when to retry');
      else {
        assert.equal(o.status, 200, `${o.kind}: ${o.status} ${o.code}`);
        if (o.kind !== 'disconnect') assert.ok(o.complete, `an accepted ${o.kind} request got its whole answer`);
      }
    }
    assert.ok(summary.completed >= 5, `only ${summary.completed} answered`);
    assert.ok((summary.rejected['429 queue_full'] ?? 0) > 0, 'eight clients overflow one slot and four places');
    // An abandoned stream's generation stops at its next decode step, just after its client has gone.
    for (const start = performance.now(); running.server.stats().running > 0 && performance.now() - start < 2000; ) await new Promise((resolve) => setTimeout(resolve, 5));
    const stats = running.server.stats();
    assert.equal(stats.running, 0);
    assert.equal(stats.queued, 0);
    const rssAfter = process.memoryUsage().rss;
    assert.ok(rssAfter - rssBefore < 200 * 2 ** 20, `RSS grew by ${((rssAfter - rssBefore) / 2 ** 20).toFixed(0)} MiB`);
    // Still answering.
    assert.equal((await postChat(running.baseUrl, { model: MODEL_ID, max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] })).status, 200);
  });
});
