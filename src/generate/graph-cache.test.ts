// The converted-model cache through loadModel on the tiny checkpoint: a q8 load writes an entry and
// the next one reads every weight graph from it with the same logits; the key follows the options
// and the checkpoint's files; a truncated file, a garbled manifest, an interrupted write and a full
// disk each end in a correct load (rebuilt, ignored or skipped, with a warning), never in a bad cache read.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTinyCheckpoint } from '../tools/make-tiny.js';
import { GraphCache, type CacheWrites } from '../runtime/graph-cache.js';
import { loadModel, type LoadOptions } from './model.js';

const DEMO_IMAGE = join(import.meta.dirname, '..', '..', 'assets', 'demo.jpg');

/** Prefill logits and greedy tokens of one short generation, and the load's warnings and cache hits. */
async function run(dir: string, options: LoadOptions): Promise<{ logits: Float32Array; tokens: readonly number[]; warnings: string[]; cachedGraphs: number }> {
  const warnings: string[] = [];
  const model = await loadModel(dir, { weights: 'q8', ...options, onWarning: (message) => warnings.push(message) });
  try {
    let logits: Float32Array | null = null;
    for await (const event of model.generate({ image: DEMO_IMAGE, prompt: 'What is it?', maxNewTokens: 4 })) {
      if (event.type === 'prefill') logits = event.logits;
      if (event.type === 'done') return { logits: logits!, tokens: event.tokens, warnings, cachedGraphs: model.cachedGraphs };
    }
    throw new Error('no done event');
  } finally {
    await model.release();
  }
}

describe('converted-model cache', () => {
  let root: string;
  let checkpoint: string;
  let uncached: Awaited<ReturnType<typeof run>>;
  let cacheCount = 0;
  /** A fresh, empty cache directory. */
  const freshCache = () => join(root, `cache-${++cacheCount}`);
  const entries = (dir: string) => new GraphCache({ dir }).list();
  /** The one entry's directory and its graph and weights files, largest first (a weights file). */
  const graphFiles = (dir: string) => {
    const [entry] = entries(dir);
    assert.ok(entry, 'an entry');
    const files = readdirSync(entry.path).filter((name) => name.endsWith('.onnx') || name.endsWith('.weights'));
    return { entry: entry.path, files: files.sort((a, b) => statSync(join(entry.path, b)).size - statSync(join(entry.path, a)).size) };
  };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'visdrop-cache-'));
    checkpoint = join(root, 'tiny');
    await makeTinyCheckpoint({ outDir: checkpoint, seed: 0 });
    uncached = await run(checkpoint, { cache: false });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes an entry on the first q8 load and reads every weight graph from it on the second, with identical logits', async () => {
    const dir = freshCache();
    const first = await run(checkpoint, { cache: { dir } });
    assert.equal(first.cachedGraphs, 0);
    assert.equal(entries(dir).length, 1);
    const second = await run(checkpoint, { cache: { dir } });
    // Embeddings, 4 CLIP layers, projector, 2 per decoder layer (4), lm_head.
    assert.equal(second.cachedGraphs, 1 + 4 + 1 + 2 * 4 + 1);
    assert.deepEqual(second.warnings, []);
    assert.deepEqual(second.logits, uncached.logits);
    assert.deepEqual(second.tokens, uncached.tokens);
    assert.deepEqual(readdirSync(dir).filter((name) => name.includes('.tmp-')), [], 'no temporaries left');
  });

  it('keys entries by the options and the checkpoint files, replacing a stale entry of the same checkpoint', async () => {
    const dir = freshCache();
    await run(checkpoint, { cache: { dir } });
    await run(checkpoint, { cache: { dir }, weights: 'q4' });
    assert.equal(entries(dir).length, 2, 'q8 and q4 each have an entry');
    const q4Again = await run(checkpoint, { cache: { dir }, weights: 'q4', q4BlockSize: 16 });
    assert.equal(q4Again.cachedGraphs, 0, 'another block size is another key');

    const weights = join(checkpoint, 'model.safetensors');
    const { atime, mtime } = statSync(weights);
    try {
      utimesSync(weights, atime, new Date(mtime.getTime() + 1000));
      const touched = await run(checkpoint, { cache: { dir } });
      assert.equal(touched.cachedGraphs, 0, 'a changed weight file is a new key');
      const q8Entries = entries(dir).filter((e) => e.source.options.weights === 'q8');
      assert.equal(q8Entries.length, 1, 'the stale q8 entry was removed');
    } finally {
      utimesSync(weights, atime, mtime);
    }
  });

  it('rebuilds a truncated graph file with a warning, uses none of its bytes, and repairs the entry', async () => {
    const dir = freshCache();
    await run(checkpoint, { cache: { dir } });
    const { entry, files } = graphFiles(dir);
    const victim = join(entry, files[0]!);
    const size = statSync(victim).size;
    truncateSync(victim, Math.floor(size / 2));
    const damaged = await run(checkpoint, { cache: { dir } });
    assert.equal(damaged.warnings.length, 1);
    assert.match(damaged.warnings[0]!, new RegExp(`${files[0]}.*corrupt.*${Math.floor(size / 2)} bytes, expected ${size}`));
    assert.deepEqual(damaged.logits, uncached.logits);
    assert.equal(statSync(victim).size, size, 'the file was rewritten');
    const after = await run(checkpoint, { cache: { dir } });
    assert.deepEqual(after.warnings, []);
    assert.equal(after.cachedGraphs, damaged.cachedGraphs + 1);
  });

  it('rebuilds a graph file whose bytes changed but not its size', async () => {
    const dir = freshCache();
    await run(checkpoint, { cache: { dir } });
    const { entry, files } = graphFiles(dir);
    const victim = join(entry, files[0]!);
    const bytes = readFileSync(victim);
    const inWeights = bytes.length - 1000; // where a protobuf parser would not notice
    bytes.writeUInt8(bytes.readUInt8(inWeights) ^ 0xff, inWeights);
    writeFileSync(victim, bytes);
    const damaged = await run(checkpoint, { cache: { dir } });
    assert.match(damaged.warnings.join('\n'), /corrupt \(contents differ from the manifest\)/);
    assert.deepEqual(damaged.logits, uncached.logits);
  });

  it("keeps each graph's weights in a file of their own, and rebuilds a graph whose weights file is gone or whose graph file changed", async () => {
    const dir = freshCache();
    await run(checkpoint, { cache: { dir } });
    const { entry, files } = graphFiles(dir);
    assert.ok(files[0]!.endsWith('.weights'), 'the largest file is a weights file');
    const weights = files.filter((name) => name.endsWith('.weights'));
    assert.ok(weights.length >= 10, `most graphs have external weights (${weights.length})`);
    rmSync(join(entry, weights[0]!));
    const graph = join(entry, files.find((name) => name.endsWith('.onnx'))!);
    const bytes = readFileSync(graph);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0x01, bytes.length - 1);
    writeFileSync(graph, bytes);
    const damaged = await run(checkpoint, { cache: { dir } });
    assert.match(damaged.warnings.join('\n'), new RegExp(`${weights[0]} is corrupt \\(missing\\)`));
    assert.match(damaged.warnings.join('\n'), /\.onnx is corrupt \(contents differ from the manifest\)/);
    assert.deepEqual(damaged.logits, uncached.logits);
    const after = await run(checkpoint, { cache: { dir } });
    assert.deepEqual(after.warnings, [], 'both were repaired');
    assert.equal(after.cachedGraphs, 15);
  });

  it('replaces an entry whose manifest is garbled', async () => {
    const dir = freshCache();
    await run(checkpoint, { cache: { dir } });
    const { entry } = graphFiles(dir);
    writeFileSync(join(entry, 'manifest.json'), '{"format": 1, "graphs": [');
    const damaged = await run(checkpoint, { cache: { dir } });
    assert.equal(damaged.cachedGraphs, 0);
    assert.match(damaged.warnings.join('\n'), /no readable manifest/);
    assert.deepEqual(damaged.logits, uncached.logits);
    assert.equal((await run(checkpoint, { cache: { dir } })).cachedGraphs, 15, 'a sound entry was written again');
  });

  it('never reads a write that was cut off, and clears its leftovers once its writer is gone', async () => {
    const dir = freshCache();
    await run(checkpoint, { cache: { dir } });
    const { entry } = graphFiles(dir);
    rmSync(dir, { recursive: true });
    // What a writer killed mid-write leaves: a temporary directory (pid 2^22 + 1 is above Linux's
    // pid_max, so no process has it) with part of a graph and no manifest.
    const cutOff = `${entry}.tmp-4194305-0badc0de`;
    mkdirSync(cutOff, { recursive: true });
    writeFileSync(join(cutOff, 'graph-000.onnx'), new Uint8Array(100));
    const next = await run(checkpoint, { cache: { dir } });
    assert.equal(next.cachedGraphs, 0);
    assert.deepEqual(next.logits, uncached.logits);
    assert.equal(existsSync(cutOff), false);
    assert.equal(entries(dir).length, 1);
  });

  it('goes on without the cache when the disk is full, leaving nothing behind', async () => {
    const dir = freshCache();
    let files = 0;
    const fullDisk: CacheWrites = {
      writeFile(path, chunks) {
        if (++files < 3) return writeFileSync(path, Buffer.concat(chunks));
        writeFileSync(path, new Uint8Array(5)); // part of the file got out before the device filled
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    const result = await run(checkpoint, { cache: { dir, writes: fullDisk } });
    assert.deepEqual(result.logits, uncached.logits);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /could not write the converted-model cache \(no space left on the device\)/);
    assert.deepEqual(readdirSync(dir), [], 'no entry and no temporary');
  });

  it('goes on from memory when a file it wrote does not read back, leaving nothing behind', async () => {
    const dir = freshCache();
    const garbling: CacheWrites = { writeFile: (path) => writeFileSync(path, new Uint8Array(10)) };
    const result = await run(checkpoint, { cache: { dir, writes: garbling } });
    assert.deepEqual(result.logits, uncached.logits);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0]!, /graph-000\.onnx does not open after writing .*; this load goes on without the cache/);
    assert.deepEqual(readdirSync(dir), [], 'no entry and no temporary');
  });

  it('writes nothing for f32 weights or with the cache off, and clear() empties it', async () => {
    const dir = freshCache();
    await run(checkpoint, { cache: { dir }, weights: 'f32' });
    await run(checkpoint, { cache: false });
    assert.equal(existsSync(dir), false);
    await run(checkpoint, { cache: { dir } });
    assert.equal(new GraphCache({ dir }).clear(), 1);
    assert.equal(existsSync(dir), false);
  });
});
