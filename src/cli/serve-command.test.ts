// `visdrop serve` as a user runs it: the CLI (through its malloc relaunch) loads the tiny model,
// listens on an ephemeral loopback port, answers curl-style requests with a strategy, and on
// SIGTERM to the process it started stops gracefully and exits 0.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';

const MAIN = join(import.meta.dirname, 'main.ts');
const DEMO = join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg');

describe('visdrop serve (the command)', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-serve-cli-'));
    await makeTinyCheckpoint({ outDir: dir, seed: 0 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves on loopback, answers with a reduction, and stops on SIGTERM', async () => {
    const { MALLOC_MMAP_THRESHOLD_: _, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--model', dir, '--port', '0', '--model-name', 'tiny', '--reduce', 'fastv', '--fastv-k', '1'], { env });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const start = performance.now();
    let url: string | undefined;
    while (!(url = /listening on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1])) {
      assert.ok(performance.now() - start < 30_000, `no listening line: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const response = await fetch(`${url}v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tiny',
        max_tokens: 3,
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${readFileSync(DEMO).toString('base64')}` } }, { type: 'text', text: 'What is it?' }] }],
      }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { usage: { completion_tokens: number }; visdrop: { strategy: string; kept_image_tokens: number[] } };
    assert.equal(body.usage.completion_tokens, 3);
    assert.equal(body.visdrop.strategy, 'fastv');
    assert.deepEqual(body.visdrop.kept_image_tokens, [288]);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(stderr, /SIGTERM: refusing new requests/);
    assert.match(stderr, /stopped/);
  });
});
