// The main thread's side of AdamW's parallel update: worker threads each fed a ring of chunk
// slots (adamw-protocol.ts), the main thread working on chunks of its own between filling and
// reading back slots. The work divides itself by speed: a thread slowed by another process takes
// fewer chunks (a worker only starves while the main thread itself is off its core). Two phases
// per step, since the update needs the global gradient norm first:
//   sums of squares: whole tensors are the units (largest first, so the last ones are short),
//     each summed by one thread in index order exactly as one thread sums it alone;
//   update: chunks are the units, each elementwise, so any split gives the same bits.
// Everything stays synchronous (the main thread blocks in Atomics.wait), so AdamW.step needs no
// await; workers are unref'd and sit in their event loops between phases, so they never keep
// the process alive.
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { moduleWorker } from '../util/module-worker.js';
import { addSquares, COEFFICIENT_KEYS, updateRange, type UpdateCoefficients } from './adamw-kernel.js';
import {
  COUNT,
  DONE,
  END,
  EXITED,
  FAILED,
  FIRST,
  FREE,
  JOB_FIELDS,
  KIND,
  NUMBER_FIELDS,
  OFFSET,
  READY,
  SLOTS,
  SQUARES,
  STARTED,
  TENSOR,
  UPDATE,
  type BeginMessage,
  type FailureMessage,
  type WorkerSetup,
} from './adamw-protocol.js';

/** One tensor of an update phase; the moments must be over SharedArrayBuffers. */
export interface UpdateTensor {
  /** Stable per parameter name across steps: the workers keep the moments registered under it. */
  readonly id: number;
  readonly param: Float32Array;
  readonly grad: Float32Array;
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  readonly coefficients: UpdateCoefficients;
}

/** A contiguous range of one tensor; `first` starts a tensor, `last` ends it. */
interface Chunk {
  readonly tensor: number;
  readonly offset: number;
  readonly count: number;
  readonly first: boolean;
  readonly last: boolean;
}

/** A sequence of chunks one thread takes in order. */
type Run = readonly Chunk[];

interface Phase {
  readonly kind: typeof SQUARES | typeof UPDATE;
  /** Copies a chunk's inputs into a worker's slot and writes its doubles. */
  stage(worker: WorkerHandle, slot: number, chunk: Chunk): void;
  /** Reads a finished slot back. */
  harvest(worker: WorkerHandle, slot: number, chunk: Chunk): void;
  /** Does a chunk on the main thread. */
  here(chunk: Chunk): void;
}

interface WorkerHandle extends WorkerSetup {
  readonly worker: Worker;
  /** The main thread's side of the channel. */
  readonly mainPort: MessagePort;
  readonly pending: (Chunk | null)[];
  /** Slots filled and read back in this phase (slot = count mod slots). */
  filled: number;
  harvested: number;
  /** The run being streamed to this worker and the next chunk of it. */
  stream: { run: Run; next: number } | null;
}

/** Longest wait for any worker to finish a slot (a chunk takes milliseconds) or to start. */
const WAIT_MS = 60_000;

export class AdamWWorkers {
  private readonly registered = new Map<number, Float32Array>();
  private closed = false;
  /** Chunks the workers have processed, over all phases (the tests check they took part). */
  chunksOnWorkers = 0;

  private constructor(
    private readonly workers: readonly WorkerHandle[],
    private readonly events: Int32Array,
    readonly slots: number,
    readonly chunk: number,
  ) {}

  /** `count` workers with rings of `slots` slots of `chunk` values; returns once every one has started. */
  static start(count: number, chunk: number, slots = SLOTS): AdamWWorkers {
    const events = new Int32Array(new SharedArrayBuffer(4));
    const workers: WorkerHandle[] = [];
    for (let w = 0; w < count; w++) {
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = {
        port: port2,
        slots,
        chunk,
        state: new Int32Array(new SharedArrayBuffer(4 * slots)),
        jobs: new Int32Array(new SharedArrayBuffer(4 * slots * JOB_FIELDS)),
        numbers: new Float64Array(new SharedArrayBuffer(8 * slots * NUMBER_FIELDS)),
        grad: new Float32Array(new SharedArrayBuffer(4 * slots * chunk)),
        param: new Float32Array(new SharedArrayBuffer(4 * slots * chunk)),
        control: new Int32Array(new SharedArrayBuffer(8)),
        events,
      };
      const worker = spawn(setup);
      worker.unref();
      port1.unref();
      workers.push({ ...setup, worker, mainPort: port1, pending: new Array<Chunk | null>(slots).fill(null), filled: 0, harvested: 0, stream: null });
    }
    const pool = new AdamWWorkers(workers, events, slots, chunk);
    try {
      pool.waitFor(() => {
        if (workers.some((w) => Atomics.load(w.control, EXITED) === 1)) throw new Error('AdamW update worker: failed to start');
        return workers.every((w) => Atomics.load(w.control, STARTED) === 1);
      }, 'to start');
    } catch (error) {
      void pool.close();
      throw error;
    }
    return pool;
  }

  /** False once closed, by `close` or by a failure in a step. */
  get open(): boolean {
    return !this.closed;
  }

  /** Each gradient's sum of squares, added in index order by one thread, as `addSquares(grad, 0)`. */
  sumsOfSquares(grads: readonly Float32Array[]): number[] {
    const sums = new Array<number>(grads.length).fill(0);
    const order = grads.map((_, t) => t).sort((a, b) => grads[b]!.length - grads[a]!.length);
    let sum = 0;
    this.run(
      order.map((t) => this.chunks(t, grads[t]!.length)),
      [],
      {
        kind: SQUARES,
        stage: (w, slot, c) => w.grad.set(grads[c.tensor]!.subarray(c.offset, c.offset + c.count), slot * this.chunk),
        harvest: (w, slot, c) => {
          if (c.last) sums[c.tensor] = w.numbers[slot * NUMBER_FIELDS]!;
        },
        here: (c) => {
          sum = addSquares(grads[c.tensor]!.subarray(c.offset, c.offset + c.count), c.first ? 0 : sum);
          if (c.last) sums[c.tensor] = sum;
        },
      },
    );
    return sums;
  }

  /** Updates every tensor, chunk by chunk on whichever thread is free. */
  update(tensors: readonly UpdateTensor[]): void {
    const runs = tensors.flatMap((t, index) => this.chunks(index, t.param.length).map((c) => [c]));
    const moments = tensors.filter((t) => this.registered.get(t.id) !== t.expAvg).map((t) => [t.id, t.expAvg, t.expAvgSq] as const);
    this.run(runs, moments, {
      kind: UPDATE,
      stage: (w, slot, c) => {
        const t = tensors[c.tensor]!;
        w.grad.set(t.grad.subarray(c.offset, c.offset + c.count), slot * this.chunk);
        w.param.set(t.param.subarray(c.offset, c.offset + c.count), slot * this.chunk);
        w.jobs[slot * JOB_FIELDS + TENSOR] = t.id;
        COEFFICIENT_KEYS.forEach((key, k) => (w.numbers[slot * NUMBER_FIELDS + k] = t.coefficients[key]));
      },
      harvest: (w, slot, c) => tensors[c.tensor]!.param.set(w.param.subarray(slot * this.chunk, slot * this.chunk + c.count), c.offset),
      here: (c) => {
        const t = tensors[c.tensor]!;
        const end = c.offset + c.count;
        updateRange(t.param.subarray(c.offset, end), t.grad.subarray(c.offset, end), t.expAvg.subarray(c.offset, end), t.expAvgSq.subarray(c.offset, end), t.coefficients);
      },
    });
    for (const [id, expAvg] of moments) this.registered.set(id, expAvg);
  }

  /** Ends the workers; the pool cannot be used after. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  /** A tensor cut into chunks of at most `chunk` values (one empty chunk for an empty tensor). */
  private chunks(tensor: number, length: number): Chunk[] {
    const n = Math.max(1, Math.ceil(length / this.chunk));
    return Array.from({ length: n }, (_, k) => {
      const offset = k * this.chunk;
      return { tensor, offset, count: Math.min(this.chunk, length - offset), first: k === 0, last: k === n - 1 };
    });
  }

  /** Hands out `runs` until all are done; on any failure the pool is closed and the error thrown. */
  private run(runs: readonly Run[], moments: BeginMessage['moments'], phase: Phase): void {
    if (this.closed) throw new Error('AdamW workers: the pool is closed');
    try {
      for (const w of this.workers) {
        w.filled = 0;
        w.harvested = 0;
        w.stream = null;
        w.mainPort.postMessage({ moments } satisfies BeginMessage);
      }
      let next = 0;
      let mine: { run: Run; next: number } | null = null;
      // Chunks not yet handed to any thread: near the end a worker is queued fewer, so that all
      // threads finish together rather than the main thread waiting on a full ring.
      let left = runs.reduce((n, run) => n + run.length, 0);
      for (;;) {
        const seen = Atomics.load(this.events, 0);
        const depth = Math.max(1, Math.min(this.slots, Math.ceil(left / (this.workers.length + 1))));
        let outstanding = false;
        for (const w of this.workers) {
          this.harvest(w, phase);
          while (w.filled - w.harvested < depth) {
            if (!w.stream || w.stream.next === w.stream.run.length) w.stream = next < runs.length ? { run: runs[next++]!, next: 0 } : null;
            if (!w.stream) break;
            this.fill(w, phase.kind, w.stream.run[w.stream.next++]!, phase);
            left -= 1;
          }
          if (w.filled > w.harvested) outstanding = true;
        }
        if (!mine || mine.next === mine.run.length) mine = next < runs.length ? { run: runs[next++]!, next: 0 } : null;
        if (mine) {
          phase.here(mine.run[mine.next++]!);
          left -= 1;
          continue;
        }
        if (!outstanding) break;
        this.wait(seen);
      }
      // Each worker acknowledges the end of the phase and goes back to its event loop.
      for (const w of this.workers) this.fill(w, END, { tensor: 0, offset: 0, count: 0, first: false, last: false }, null);
      this.waitFor(() => this.workers.every((w) => this.harvest(w, null)), 'to end the phase');
    } catch (error) {
      void this.close();
      throw error;
    }
  }

  private fill(w: WorkerHandle, kind: number, chunk: Chunk, phase: Phase | null): void {
    const slot = w.filled % this.slots;
    const job = slot * JOB_FIELDS;
    w.jobs[job + KIND] = kind;
    w.jobs[job + OFFSET] = chunk.offset;
    w.jobs[job + COUNT] = chunk.count;
    w.jobs[job + FIRST] = chunk.first ? 1 : 0;
    phase?.stage(w, slot, chunk);
    w.pending[slot] = chunk;
    w.filled += 1;
    Atomics.store(w.state, slot, READY);
    Atomics.notify(w.state, slot);
  }

  /** Reads back the worker's finished slots in ring order; true when none is outstanding. */
  private harvest(w: WorkerHandle, phase: Phase | null): boolean {
    while (w.harvested < w.filled) {
      const slot = w.harvested % this.slots;
      const state = Atomics.load(w.state, slot);
      if (state === FAILED) {
        const reply = receiveMessageOnPort(w.mainPort)?.message as FailureMessage | undefined;
        throw new Error(`AdamW update worker failed: ${reply?.error ?? 'no message'}`);
      }
      if (state !== DONE) {
        if (Atomics.load(w.control, EXITED) === 1) throw new Error('AdamW update worker exited in the middle of a step');
        return false;
      }
      if (phase) {
        phase.harvest(w, slot, w.pending[slot]!);
        this.chunksOnWorkers += 1;
      }
      w.pending[slot] = null;
      Atomics.store(w.state, slot, FREE);
      w.harvested += 1;
    }
    return true;
  }

  /** Blocks until `events` moves past `seen` (a worker finished a slot, started or exited). */
  private wait(seen: number): void {
    if (Atomics.wait(this.events, 0, seen, WAIT_MS) === 'timed-out') throw new Error(`AdamW update workers: no answer in ${WAIT_MS / 1000} s`);
  }

  private waitFor(done: () => boolean, what: string): void {
    for (;;) {
      const seen = Atomics.load(this.events, 0);
      if (done()) return;
      if (Atomics.wait(this.events, 0, seen, WAIT_MS) === 'timed-out' && !done()) throw new Error(`AdamW update workers: none answered ${what} in ${WAIT_MS / 1000} s`);
    }
  }
}

/**
 * The worker (adamw-worker.ts). One whose entry cannot load reports it as an exit, so `start`
 * fails at once rather than after its timeout.
 */
function spawn(setup: WorkerSetup): Worker {
  return moduleWorker(import.meta.url, 'adamw-worker', {
    workerData: setup,
    transferList: [setup.port],
    onLoadError: `Atomics.store(workerData.control, ${EXITED}, 1);
  Atomics.add(workerData.events, 0, 1);
  Atomics.notify(workerData.events, 0);`,
  });
}
