// GraphBuilder.extract: the part of a graph between chosen values, run by onnxruntime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { GraphError } from '../errors.js';
import { GraphBuilder, type GraphInput } from './builder.js';

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
