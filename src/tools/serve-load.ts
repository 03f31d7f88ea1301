// A measured load run of `visdrop serve` on loopback, bounded: loads a model (default: the tiny
// seeded checkpoint, made in a temporary directory), starts the server in this process on an
// ephemeral 127.0.0.1 port, sends REQUESTS requests from CLIENTS concurrent clients (a mix of
// plain, streamed, abandoned mid-stream and oversized, see serve/load-client.ts) and prints the
// figures: latency and time-to-first-token percentiles, refusals by reason, the server's memory
// before and after (the load's clients run in the same process). One slot, a queue of QUEUE.
// Usage: MALLOC_MMAP_THRESHOLD_=65536 node --import tsx src/tools/serve-load.ts [REQUESTS] [CLIENTS] [MAX_TOKENS] [QUEUE] [MODEL_DIR]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadModel } from '../generate/model.js';
import { serverOptions } from '../cli/serve-command.js';
import { createServer } from '../serve/index.js';
import { runLoad, summarize } from '../serve/load-client.js';
import { makeTinyCheckpoint } from './make-tiny.js';

const [requests = 200, clients = 8, maxTokens = 16, maxQueue = 4] = process.argv.slice(2, 6).map(Number);
const givenDir = process.argv[6];
const MAX_IMAGE_BYTES = 200_000;

const dir = givenDir ?? mkdtempSync(join(tmpdir(), 'visdrop-serve-load-'));
if (!givenDir) await makeTinyCheckpoint({ outDir: dir, seed: 0 });
const model = await loadModel(dir);
const server = createServer(model, serverOptions(model, { modelId: 'load', maxConcurrency: 1, maxQueue, maxImageBytes: MAX_IMAGE_BYTES, maxTokens: 1024 }));
const { port } = await server.listen('127.0.0.1', 0);
const imageUrl = `data:image/jpeg;base64,${readFileSync(join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg')).toString('base64')}`;
const noise = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
const options = { baseUrl: `http://127.0.0.1:${port}`, model: 'load', clients, maxTokens, imageUrl, oversizedImageUrl: `data:image/png;base64,${noise.toString('base64')}`, backoffMs: 250 };

await runLoad({ ...options, requests: 4, clients: 1 }); // warm-up
const rssBefore = process.memoryUsage().rss;
const start = performance.now();
const outcomes = await runLoad({ ...options, requests });
const summary = summarize(outcomes, clients, performance.now() - start);
while (server.stats().running > 0) await new Promise((resolve) => setTimeout(resolve, 10));
const rssAfter = process.memoryUsage().rss;
const MiB = 2 ** 20;
console.log(JSON.stringify({ ...summary, incomplete: outcomes.filter((o) => o.status === 200 && o.kind !== 'disconnect' && !o.complete).length, server: server.stats(), rssBeforeMiB: rssBefore / MiB, rssAfterMiB: rssAfter / MiB }, null, 2));
await server.shutdown(2000);
await model.release();
if (!givenDir) rmSync(dir, { recursive: true, force: true });
