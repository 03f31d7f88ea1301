// Fuzzed safetensors headers (fast-check): random bytes, byte flips of a valid file, declared header
// lengths of any u64, and headers of arbitrary entries (any dtype, shapes of huge dimensions, any
// offsets). Opening and reading only ever throws CheckpointError, and never allocates by what a
// header claims: a read returns at most the file's own bytes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { CheckpointError } from '../errors.js';
import { SafetensorsFile } from './safetensors.js';
import { writeSafetensors } from './write.js';

describe('safetensors headers under fuzzing', () => {
  let dir: string;
  let valid: Buffer;
  let file: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-fuzz-st-'));
    file = join(dir, 'fuzz.safetensors');
    const path = join(dir, 'valid.safetensors');
    writeSafetensors(path, [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(1.5) },
      { name: 'b', dtype: 'F16', shape: [4], data: new Float32Array(4) },
    ]);
    valid = readFileSync(path);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Opens `bytes` as a safetensors file and reads every tensor; returns the error, if any. */
  function openAndRead(bytes: Uint8Array): unknown {
    writeFileSync(file, bytes);
    try {
      const st = new SafetensorsFile(file);
      try {
        for (const name of st.names()) assert.ok(st.readRaw(name).byteLength <= statSync(file).size);
      } finally {
        st.close();
      }
      return null;
    } catch (error) {
      return error;
    }
  }

  const onlyCheckpointErrors = (error: unknown) => error === null || error instanceof CheckpointError || assert.fail(`not a CheckpointError: ${(error as Error)?.stack ?? String(error)}`);

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => onlyCheckpointErrors(openAndRead(bytes))), { numRuns: 150 });
  });

  it('byte flips of a valid file', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (flips) => {
        const bytes = Buffer.from(valid);
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        return onlyCheckpointErrors(openAndRead(bytes));
      }),
      { numRuns: 150 },
    );
  });

  it('any declared header length', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (length) => {
        const bytes = Buffer.from(valid);
        bytes.writeBigUInt64LE(length, 0);
        return onlyCheckpointErrors(openAndRead(bytes));
      }),
      { numRuns: 150 },
    );
  });

  it('headers of arbitrary entries: any dtype, huge shapes, any offsets', () => {
    const dim = fc.oneof(fc.nat(8), fc.constantFrom(2 ** 31, 2 ** 40, 2 ** 53 - 1, Number.MAX_SAFE_INTEGER), fc.integer(), fc.double());
    const entry = fc.record({
      dtype: fc.oneof(fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'U8', 'F64'), fc.string()),
      shape: fc.oneof(fc.array(dim, { maxLength: 5 }), fc.jsonValue()),
      data_offsets: fc.oneof(fc.tuple(fc.oneof(fc.nat(64), dim), fc.oneof(fc.nat(64), dim)), fc.jsonValue()),
    });
    const header = fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(entry, fc.jsonValue()), { maxKeys: 4 }), fc.jsonValue());
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), (h, data) => {
        const json = Buffer.from(JSON.stringify(h) ?? 'null');
        const length = Buffer.alloc(8);
        length.writeBigUInt64LE(BigInt(json.length));
        return onlyCheckpointErrors(openAndRead(Buffer.concat([length, json, data])));
      }),
      { numRuns: 200 },
    );
  });
});
