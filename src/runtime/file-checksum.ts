// SHA-1 of files, computed on a worker thread: opening a cached graph is synchronous work on the
// main thread inside onnxruntime, so the check of its weights file runs beside it on the other core
// instead of before it (a 7B's q8 weights are ~7 GB, ~5 s of hashing on one core).
import { Worker } from 'node:worker_threads';

// Plain CommonJS, evaluated: the worker needs no module of ours (so it runs the same from dist/
// and from TypeScript source under tsx). Reads in 8 MiB chunks, so memory stays flat.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync } = require('node:fs');
const chunk = Buffer.allocUnsafe(1 << 23);
parentPort.on('message', ({ id, path }) => {
  try {
    const hash = createHash('sha1');
    const fd = openSync(path, 'r');
    try {
      for (;;) {
        const read = readSync(fd, chunk, 0, chunk.length, null);
        if (read === 0) break;
        hash.update(chunk.subarray(0, read));
      }
    } finally {
      closeSync(fd);
    }
    parentPort.postMessage({ id, digest: hash.digest('hex') });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

interface Reply {
  readonly id: number;
  readonly digest?: string;
  readonly error?: string;
}

/** One worker thread hashing files in the order asked; `close` ends it. */
export class FileChecksums {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (digest: string) => void; reject: (error: Error) => void }>();

  /** The file's SHA-1 as hex; rejects when the file cannot be read. */
  sha1(path: string): Promise<string> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, path });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (reply: Reply) => {
      const waiting = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      // An idle worker does not keep the process alive.
      if (this.pending.size === 0) worker.unref();
      if (reply.error !== undefined) waiting?.reject(new Error(reply.error));
      else waiting?.resolve(reply.digest!);
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', () => this.failAll(new Error('the checksum worker stopped')));
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    this.worker = null;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
