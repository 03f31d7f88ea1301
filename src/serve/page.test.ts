// The page at / in a real browser: Debian's headless Chromium driven by puppeteer-core uploads the
// demo picture, asks with PyramidDrop, reads the streamed answer (the same as the API's), the kept
// counts and the kept-patch picture drawn on the canvas. Skipped, saying so, where no Chromium is
// installed (.ci/run installs it).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';
import { DEMO_IMAGE, imageQuestion, MODEL_ID, startServer, tinyModel, type RunningServer, type TinyModel } from './test-helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', process.env.CHROMIUM_PATH ?? ''].find((path) => path && existsSync(path));

describe('the page at / in headless Chromium', { skip: CHROMIUM === undefined && 'no Chromium installed (apt-get install chromium)' }, () => {
  let tiny: TinyModel;
  let running: RunningServer;
  let browser: Browser;
  before(async () => {
    tiny = await tinyModel();
    running = await startServer(tiny.model, { maxTokens: 64 });
    browser = await puppeteer.launch({ executablePath: CHROMIUM!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  });
  after(async () => {
    await browser?.close();
    await running.server.shutdown(1000);
    await tiny.close();
  });

  it('uploads an image, streams the answer and draws the patches each stage kept', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(`${running.baseUrl}/`);
    await page.waitForFunction(() => document.querySelectorAll('#method option').length > 0);
    assert.match(await page.$eval('#model', (e) => e.textContent ?? ''), new RegExp(MODEL_ID));
    const upload = await page.$('#image');
    await (upload as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(DEMO_IMAGE);
    await page.waitForFunction(() => !(document.getElementById('preview') as HTMLImageElement).hidden);
    await page.select('#method', 'pdrop');
    await page.$eval('#max-tokens', (e) => ((e as HTMLInputElement).value = '8'));
    await page.$eval('#extra', (e) => ((e as HTMLInputElement).value = '{"pdrop_layers": [1, 2, 3]}'));
    // Watch the answer grow: more than one length seen means it streamed.
    await page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { seen: number[] }).seen = seen;
      new MutationObserver(() => seen.push(document.getElementById('answer')!.textContent!.length)).observe(document.getElementById('answer')!, { childList: true, characterData: true, subtree: true });
    });
    await page.click('#ask');
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'done' || document.getElementById('status')!.className === 'error', { timeout: 20_000 });
    assert.equal(await page.$eval('#status', (e) => e.textContent), 'done');
    const answer = await page.$eval('#answer', (e) => e.textContent ?? '');
    const api = await running.client.chat.completions.create({ model: MODEL_ID, messages: imageQuestion(), max_tokens: 8, visdrop: { reduce: 'pdrop', pdrop_layers: [1, 2, 3], pdrop_lambda: 0.5 } } as never);
    assert.equal(answer, (api as { choices: { message: { content: string } }[] }).choices[0]!.message.content);
    const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
    assert.ok(new Set(seen).size > 1, `the answer arrived in pieces: ${seen}`);
    assert.equal(await page.$eval('#counts', (e) => e.textContent), '576 in → 288 after layer 1 → 144 after layer 2 → 72 after layer 3');
    assert.match(await page.$eval('#timings', (e) => e.textContent ?? ''), /prefill \d+ ms/);
    // The picture is drawn: three panels wide, dimmed (dark) and kept (bright) patches both present.
    const canvas = await page.$eval('#patches', (c) => {
      const canvas = c as HTMLCanvasElement;
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let dark = 0;
      // A dropped patch's pixels become 0.25 x pixel + 30: at most 94 in every channel.
      for (let i = 0; i < data.length; i += 4) if (Math.max(data[i]!, data[i + 1]!, data[i + 2]!) <= 94) dark++;
      return { width: canvas.width, height: canvas.height, drawn: canvas.dataset.drawn, darkShare: dark / (data.length / 4) };
    });
    assert.equal(canvas.drawn, 'true');
    assert.ok(canvas.width > 3 * 336 && canvas.height > 336, `${canvas.width}x${canvas.height}`);
    assert.ok(canvas.darkShare > 0.3, `dropped patches are dimmed: ${canvas.darkShare}`);
    if (process.env.VISDROP_PAGE_SCREENSHOT) await page.screenshot({ path: process.env.VISDROP_PAGE_SCREENSHOT as `${string}.png`, fullPage: true });
  });
});
