// What the main thread and an AdamW update worker share: a ring of slots in SharedArrayBuffers,
// each holding one chunk of work (its gradient and parameter values copied in, since
// onnxruntime-node refuses typed arrays over SharedArrayBuffers as inputs and outputs, so
// parameters and gradients stay in ordinary memory only the main thread can reach), its job
// fields and its doubles. The main thread fills slots in ring order and the worker takes them in
// the same order, so chunks of one tensor given to one worker are processed in index order. The
// moments live in SharedArrayBuffers both sides read and write directly.
import type { MessagePort } from 'node:worker_threads';
import { COEFFICIENT_KEYS } from './adamw-kernel.js';

/** Slots per worker, by default: chunks queued keep it busy while the main thread works on its own. */
export const SLOTS = 4;

/** A slot's state, in `WorkerSetup.state` (one Int32 per slot; Atomics.wait/notify on it). */
export const FREE = 0; // the main thread's to fill
export const READY = 1; // filled, the worker's to process
export const DONE = 2; // processed, the main thread's to read back
export const FAILED = 3; // the worker threw; the message follows on the port

/** A slot's job, in `WorkerSetup.jobs` (JOB_FIELDS Int32s per slot). */
export const SQUARES = 1; // add the squares of the slot's gradient values to the running sum
export const UPDATE = 2; // update the slot's parameter values and the tensor's moments
export const END = 3; // the phase is over: acknowledge and go back to waiting for messages
export const JOB_FIELDS = 5;
export const KIND = 0;
export const TENSOR = 1; // the tensor's id (its moments, registered by a BeginMessage)
export const OFFSET = 2; // the chunk's first index in the tensor
export const COUNT = 3; // values in the chunk
export const FIRST = 4; // 1 on a tensor's first chunk: the running sum starts at 0

/** Doubles per slot in `WorkerSetup.numbers`: an update's coefficients, or a sum of squares at 0. */
export const NUMBER_FIELDS = COEFFICIENT_KEYS.length;

/** `WorkerSetup.control`: set by the worker, each change counted in `events` and notified. */
export const STARTED = 0;
export const EXITED = 1;

export interface WorkerSetup {
  /** The worker's side of a channel: BeginMessages in, FailureMessages out. */
  readonly port: MessagePort;
  /** Slots in the ring. */
  readonly slots: number;
  /** Values per slot (the chunk size). */
  readonly chunk: number;
  readonly state: Int32Array;
  readonly jobs: Int32Array;
  readonly numbers: Float64Array;
  /** slots x chunk gradient values, slot k's from k x chunk. */
  readonly grad: Float32Array;
  /** slots x chunk parameter values. */
  readonly param: Float32Array;
  readonly control: Int32Array;
  /** Shared by all workers: bumped and notified after every slot finished and every control change. */
  readonly events: Int32Array;
}

/** Starts a phase: moments the worker has not seen (or that were replaced), by tensor id. */
export interface BeginMessage {
  readonly moments: readonly (readonly [id: number, expAvg: Float32Array, expAvgSq: Float32Array])[];
}

export interface FailureMessage {
  readonly error: string;
}
