// GraphBuilder.extract: the part of a graph between chosen values, run by onnxruntime; and the
// model written with its weights as external data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { GraphError } from '../errors.js';
import { GraphBuilder, type GraphInput } from './builder.js';

const { onnx } = onnxProto;

/** y = (a * 2 + b) * 3, with the middle value `m` = a * 2 + b. */
function chain() {
  const g = new GraphBuilder('chain');
  const a = g.input('a', 'float32', [2]);
  const b = g.input('b', 'float32', [2]);
  const m = g.node('Add', [g.node('Mul', [a, g.constFloat(2)]), b]);
  const y = g.node('Mul', [m, g.constFloat(3)]);
  const value = (name: string): GraphInput => ({ name, elementType: 'float32', shape: [2] });
  return { g, a, b, m: value(m.name), y: value(y.name) };
}

const run = async (g: GraphBuilder, feeds: Record<string, Float32Array>) => {
  const session = await ort.InferenceSession.create(g.toModelBytes());
  const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([name, data]) => [name, new ort.Tensor('float32', data, [2])])));
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, Array.from(t.data as Float32Array)]));
};

test('extract: the first half outputs the middle value, the second takes it as an input', async () => {
  const { g, a, b, m, y } = chain();
  const first = g.extract('first', [a, b], [m]);
  assert.deepEqual(await run(first, { a: Float32Array.of(1, 2), b: Float32Array.of(10, 20) }), { [m.name]: [12, 24] });
  const second = g.extract('second', [a, b, m], [y]);
  // Only what the kept nodes read is declared: a and b are cut off by m.
  assert.deepEqual(second.inputList.map((input) => input.name), [m.name]);
  assert.equal(second.nodeList.length, 1);
  assert.deepEqual(await run(second, { [m.name]: Float32Array.of(12, 24) }), { [y.name]: [36, 72] });
});

test('extract: an output that needs a value nobody provides is refused, naming it', () => {
  const { g, a, y } = chain();
  assert.throws(
    () => g.extract('missing', [a], [y]),
    (e: unknown) => e instanceof GraphError && /"b" produced, an initialiser or an input/.test(e.message),
  );
});

test('toModelWithExternalData: large weights leave the model at mappable offsets, small ones stay, and onnxruntime computes the same', async () => {
  const g = new GraphBuilder('external');
  const x = g.input('x', 'float32', [1, 4]);
  // 4 x 65536 floats (1 MiB: mapped, 64 KiB aligned) after 4 x 100 floats (1600 bytes: external, unaligned) and a small bias (kept inside).
  const small = Float32Array.from({ length: 400 }, (_, i) => Math.sin(i));
  const large = Float32Array.from({ length: 4 * 65536 }, (_, i) => Math.cos(i) / 64);
  const bias = Float32Array.of(0.5);
  const h = g.node('Add', [g.node('MatMul', [x, g.weight('small', small, [4, 100])]), g.weight('bias', bias, [1])]);
  const y = g.node('MatMul', [g.node('Slice', [h, g.constInt64([0]), g.constInt64([4]), g.constInt64([1])]), g.weight('large', large, [4, 65536])]);
  g.output(y, 'y', 'float32', [1, 65536]);

  const { model, data, dataBytes } = g.toModelWithExternalData('external.weights');
  const decoded = onnx.ModelProto.decode(model);
  const external = (name: string) => {
    const tensor = decoded.graph!.initializer!.find((t) => t.name === name)!;
    return Object.fromEntries((tensor.externalData ?? []).map((e) => [e.key, e.value]));
  };
  assert.deepEqual(external('bias'), {}, 'the 4-byte bias stays in the model');
  assert.equal(external('small').location, 'external.weights');
  assert.equal(Number(external('small').length), small.byteLength);
  assert.equal(Number(external('large').offset) % 65536, 0, 'a large weight starts on a 64 KiB boundary');
  assert.equal(dataBytes, Number(external('large').offset) + large.byteLength);
  assert.equal(data.reduce((sum, chunk) => sum + chunk.byteLength, 0), dataBytes);
  assert.ok(model.byteLength < 4096, `the model without its weights is small (${model.byteLength} bytes)`);

  const dir = mkdtempSync(join(tmpdir(), 'visdrop-external-'));
  try {
    writeFileSync(join(dir, 'external.onnx'), model);
    writeFileSync(join(dir, 'external.weights'), Buffer.concat(data));
    const input = new ort.Tensor('float32', Float32Array.of(1, -2, 3, 0.25), [1, 4]);
    const fromFile = await ort.InferenceSession.create(join(dir, 'external.onnx'));
    const embedded = await ort.InferenceSession.create(g.toModelBytes());
    const [a, b] = [await fromFile.run({ x: input }), await embedded.run({ x: input })];
    assert.deepEqual(Array.from(a.y!.data as Float32Array), Array.from(b.y!.data as Float32Array));
    await Promise.all([fromFile.release(), embedded.release()]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
