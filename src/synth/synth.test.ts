// The synthetic set: deterministic bytes for a seed, a split that never shares a scene, every
// family present, answers recomputed from the scene object (and the pixels) they were drawn from,
// and files in the layouts the trainer and the evaluation read.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { OptionError } from '../errors.js';
import { SHORT_ANSWER_SUFFIX, FAMILIES, type Family } from './questions.js';
import { INVENTORY_QUESTION, questionsFor, sceneSplit, writeSynthDataset, type LlavaSample, type SynthMeta, type TestQuestion } from './dataset.js';
import { CELL_NAMES, CELL_PATCHES, COLOR_RGB, PATCH_SIZE, SCENE_SIZE, tileCentres, SHAPE_PLURALS, cellColumn, cellRow, sampleScene, type Scene, type SceneObject } from './scene.js';
import { splitWords, synthVocabulary } from './vocabulary.js';
import { GLYPH_HEIGHT, GLYPH_WIDTH } from './font.js';
import { SYNTH_PIXEL_STATISTICS, measurePixelStatistics } from './pixel-statistics.js';

const SEED = 7;
const COUNT = 240;

function readJson<T>(dir: string, name: string): T {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
}

function readTestLines(dir: string): TestQuestion[] {
  return readFileSync(join(dir, 'test.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as TestQuestion);
}

function sceneOf(imageFile: string): Scene {
  const index = Number(/^scene-(\d+)\.png$/.exec(imageFile)![1]);
  return sampleScene(SEED, index);
}

const PLURAL_TO_SHAPE = new Map(Object.entries(SHAPE_PLURALS).map(([shape, plural]) => [plural, shape]));

/** The objects a phrase such as "the small star in the top left" or "the red object" names. */
function resolve(scene: Scene, phrase: string): SceneObject[] {
  const m = /^the (?:(large|small) )?(?:(\w+) )?(\w+)(?: (?:in|at|on) the (.+))?$/.exec(phrase);
  assert.ok(m, `unparsed phrase ${phrase}`);
  const [, size, color, noun, where] = m;
  return scene.objects.filter(
    (o) =>
      (size === undefined || o.size === size) &&
      (color === undefined || o.color === color) &&
      (noun === 'object' || o.shape === noun) &&
      (where === undefined || CELL_NAMES[o.cell] === where),
  );
}

function only(objects: SceneObject[], question: string): SceneObject {
  assert.equal(objects.length, 1, `ambiguous or empty reference in ${JSON.stringify(question)}`);
  return objects[0]!;
}

/** The answer recomputed from the scene object alone, by parsing the question. */
function recomputedAnswer(scene: Scene, question: string): string {
  let m: RegExpExecArray | null;
  const byName = (name: string) => only(scene.objects.filter((o) => `${o.color} ${o.shape}` === name), question);
  if ((m = /^What color is (.+)\?$/.exec(question))) return only(resolve(scene, m[1]!), question).color;
  if ((m = /^What shape is (.+)\?$/.exec(question))) return only(resolve(scene, m[1]!), question).shape;
  if (question === 'How many shapes are there in the image?') return String(scene.objects.length);
  if ((m = /^How many (\w+) shapes are there\?$/.exec(question))) return String(scene.objects.filter((o) => o.color === m![1]).length);
  if ((m = /^How many (\w+) are there\?$/.exec(question))) return String(scene.objects.filter((o) => o.shape === PLURAL_TO_SHAPE.get(m![1]!)).length);
  if (question === 'Where is the label in the image?') return CELL_NAMES[scene.word!.cell]!;
  if ((m = /^Where is the (\w+ \w+) in the image\?$/.exec(question))) return CELL_NAMES[byName(m[1]!).cell]!;
  if ((m = /^Is the (\w+ \w+) (to the left of|to the right of|above|below) the (\w+ \w+)\?$/.exec(question))) {
    const [a, b] = [byName(m[1]!), byName(m[3]!)];
    const [ar, ac, br, bc] = [Math.floor(a.cell / 3), a.cell % 3, Math.floor(b.cell / 3), b.cell % 3];
    const holds = { 'to the left of': ac < bc, 'to the right of': ac > bc, above: ar < br, below: ar > br }[m[2]!];
    return holds ? 'yes' : 'no';
  }
  if ((m = /^Is there a (\w+) (\w+) in the image\?$/.exec(question))) return scene.objects.some((o) => o.color === m![1] && o.shape === m![2]) ? 'yes' : 'no';
  if (/^What (word is written in the image|does the label say|is written on the label)\?$/.test(question)) return scene.word!.text;
  if ((m = /^Which is bigger, the (\w+ \w+) or the (\w+ \w+)\?$/.exec(question))) {
    const [a, b] = [byName(m[1]!), byName(m[2]!)];
    assert.notEqual(a.size, b.size, question);
    return a.size === 'large' ? m[1]! : m[2]!;
  }
  if ((m = /^Are there more (\w+) shapes than (\w+) shapes\?$/.exec(question))) {
    const count = (color: string) => scene.objects.filter((o) => o.color === color).length;
    assert.notEqual(count(m[1]!), count(m[2]!), question);
    return count(m[1]!) > count(m[2]!) ? 'yes' : 'no';
  }
  // the inventory turn has its own test
  if (question === INVENTORY_QUESTION) return 'inventory';
  if (question.startsWith('Describe') || question.startsWith('Provide') || question.startsWith('Give') || question.startsWith('Summarize') || question === 'What is in the picture?') return 'description';
  throw new Error(`no rule for ${JSON.stringify(question)}`);
}

/** Every file under `dir` with its bytes, by relative path. */
function filesOf(dir: string, prefix = ''): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const path = join(prefix, entry.name);
    if (entry.isDirectory()) for (const [p, b] of filesOf(dir, path)) out.set(p, b);
    else out.set(path, readFileSync(join(dir, path)));
  }
  return out;
}

/** An object's inventory attributes as [kind, words] (a cell name is one or two words). */
function objectAttributes(o: SceneObject, key: number): { key: number; attributes: Array<[string, string]> } {
  return { key, attributes: [['shape', o.shape], ['color', o.color], ['size', o.size], ['cell', CELL_NAMES[o.cell]!]] };
}

type InventoryEntry = { key: number; order: string };

/**
 * Splits an inventory caption's words into exactly the given objects (their attributes in any
 * order) and the label ("label word cell" or "label cell word"), in caption order (key: the object's
 * index, -1 the label; order: the attribute kinds as they came), or null when it is not those
 * entries. Backtracks: "... top left ..." may end one entry's cell and start the next.
 */
function splitInventory(words: readonly string[], objects: ReturnType<typeof objectAttributes>[], label: { text: string; cell: string } | null, at = 0): InventoryEntry[] | null {
  if (at === words.length) return objects.length === 0 && !label ? [] : null;
  const matches = (phrase: string, from: number) => phrase.split(' ').every((w, k) => words[from + k] === w);
  if (label) {
    for (const [order, phrase] of [['word,cell', `label ${label.text} ${label.cell}`], ['cell,word', `label ${label.cell} ${label.text}`]] as const) {
      const rest = matches(phrase, at) ? splitInventory(words, objects, null, at + phrase.split(' ').length) : null;
      if (rest) return [{ key: -1, order }, ...rest];
    }
  }
  // One object's attributes from words[i], in any order; then the rest of the caption.
  const take = (object: (typeof objects)[number], i: number, left: Array<[string, string]>, order: string[]): InventoryEntry[] | null => {
    if (left.length === 0) {
      const rest = splitInventory(words, objects.filter((o) => o !== object), label, i);
      return rest ? [{ key: object.key, order: order.join() }, ...rest] : null;
    }
    for (const attribute of left) {
      const found = matches(attribute[1], i) ? take(object, i + attribute[1].split(' ').length, left.filter((x) => x !== attribute), [...order, attribute[0]]) : null;
      if (found) return found;
    }
    return null;
  };
  for (const object of objects) {
    const found = take(object, at, object.attributes, []);
    if (found) return found;
  }
  return null;
}

describe('visdrop synth', () => {
  let dir: string;
  let meta: SynthMeta;
  let pretrain: LlavaSample[];
  let inventory: LlavaSample[];
  let train: LlavaSample[];
  let testLines: TestQuestion[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-synth-'));
    meta = await writeSynthDataset({ outDir: dir, count: COUNT, seed: SEED });
    pretrain = readJson(dir, 'pretrain.json');
    inventory = readJson(dir, 'inventory.json');
    train = readJson(dir, 'train.json');
    testLines = readTestLines(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the same seed writes the same bytes; another seed writes other scenes', async () => {
    const [a, b, c] = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'visdrop-synth-det-')));
    try {
      await writeSynthDataset({ outDir: a!, count: 30, seed: 3 });
      await writeSynthDataset({ outDir: b!, count: 30, seed: 3 });
      await writeSynthDataset({ outDir: c!, count: 30, seed: 4 });
      const [fa, fb, fc] = [a!, b!, c!].map((d) => filesOf(d));
      assert.deepEqual([...fa!.keys()].sort(), [...fb!.keys()].sort());
      for (const [path, bytes] of fa!) assert.ok(bytes.equals(fb!.get(path)!), `${path} differs between two runs`);
      assert.ok(!fa!.get('pretrain.json')!.equals(fc!.get('pretrain.json')!));
    } finally {
      for (const d of [a, b, c]) rmSync(d!, { recursive: true, force: true });
    }
  });

  test('the test split never shares a scene with training, and every scene is in one of them', () => {
    const trainIds = new Set(train.map((s) => s.image));
    const pretrainIds = new Set(pretrain.map((s) => s.image));
    const testIds = new Set(testLines.map((q) => q.image));
    assert.deepEqual([...trainIds].sort(), [...pretrainIds].sort());
    assert.deepEqual([...trainIds].sort(), inventory.map((s) => s.image).sort());
    for (const id of testIds) assert.ok(!trainIds.has(id), `${id} is in both splits`);
    assert.equal(trainIds.size + testIds.size, COUNT);
    assert.deepEqual(readdirSync(join(dir, 'images')).sort(), [...trainIds, ...testIds].sort());
    for (const id of testIds) assert.equal(sceneSplit(SEED, id.replace('.png', '')), 'test');
  });

  test('meta.json counts what the files hold', () => {
    assert.deepEqual(readJson(dir, 'meta.json'), meta);
    assert.equal(meta.seed, SEED);
    assert.equal(meta.tiles, 1);
    assert.equal(meta.splits.test.questions, testLines.length);
    assert.equal(meta.splits.train.conversations, train.length);
    for (const family of FAMILIES) {
      assert.equal(meta.splits.test.questionsPerFamily[family], testLines.filter((q) => q.category === family).length);
      assert.ok(meta.splits.train.questionsPerFamily[family] > 0, `no ${family} question in training`);
    }
  });

  test('with the default 3000 scenes every family has at least 50 test questions, and existence all three negative samplings', () => {
    const perFamily = new Map<Family, number>();
    const samplings = new Map<string, number>();
    for (let index = 0; index < 3000; index++) {
      const scene = sampleScene(0, index);
      if (sceneSplit(0, scene.id) !== 'test') continue;
      for (const q of questionsFor(0, scene)) {
        perFamily.set(q.family, (perFamily.get(q.family) ?? 0) + 1);
        if (q.family === 'existence') samplings.set(q.variant, (samplings.get(q.variant) ?? 0) + 1);
      }
    }
    for (const family of FAMILIES) assert.ok((perFamily.get(family) ?? 0) >= 50, `${family}: ${perFamily.get(family)}`);
    for (const sampling of ['positive', 'random', 'popular', 'adversarial']) assert.ok((samplings.get(sampling) ?? 0) >= 10, sampling);
  });

  test('every answer, in training and test, is recomputed from the scene it was drawn from', () => {
    for (const line of testLines) {
      assert.ok(line.text.endsWith(`\n${SHORT_ANSWER_SUFFIX}`));
      const question = line.text.slice(0, -SHORT_ANSWER_SUFFIX.length - 1);
      assert.equal(recomputedAnswer(sceneOf(line.image), question), line.answer, `${line.question_id}: ${question}`);
    }
    for (const sample of train) {
      const scene = sceneOf(sample.image);
      for (let t = 0; t < sample.conversations.length; t += 2) {
        const question = sample.conversations[t]!.value.replace(/^<image>\n/, '').replace(`\n${SHORT_ANSWER_SUFFIX}`, '');
        const expected = recomputedAnswer(scene, question);
        if (expected !== 'description' && expected !== 'inventory') assert.equal(sample.conversations[t + 1]!.value, expected, `${sample.id}: ${question}`);
      }
    }
  });

  test('descriptions name every object with its size, colour, shape and cell, and the word', () => {
    for (const sample of pretrain) {
      const scene = sceneOf(sample.image);
      const description = sample.conversations[1]!.value;
      const named = [...description.matchAll(/a (large|small) (\w+) (\w+) (?:in|at|on) the ([a-z ]+?)(?=,| and|\.)/g)].map((m) => `${m[1]} ${m[2]} ${m[3]} ${m[4]}`);
      assert.deepEqual(named.sort(), scene.objects.map((o) => `${o.size} ${o.color} ${o.shape} ${CELL_NAMES[o.cell]}`).sort(), description);
      assert.equal(description.includes('a label reading'), scene.word !== null);
      if (scene.word) assert.ok(description.includes(`a label reading ${scene.word.text} `));
    }
  });

  test("inventories (inventory.json and every conversation's last turn) list every object (its shape, colour, size and cell in an order drawn per object) and the label (its word and cell in either order), in varied orders", () => {
    const entryOrders = new Set<string>();
    const attributeOrders = new Set<string>();
    const firstAttribute = new Map<string, number>();
    const labelOrders = new Map<string, number>();
    let objectEntries = 0;
    const captions = [
      ...inventory.map((sample) => [sample.image, sample.conversations[1]!.value] as const),
      // every fine-tuning conversation ends with the inventory question, after all the others
      ...train.map((sample) => {
        const turns = sample.conversations;
        assert.equal(turns[turns.length - 2]!.value, INVENTORY_QUESTION, sample.id);
        assert.equal(turns.filter((t) => t.value === INVENTORY_QUESTION).length, 1, sample.id);
        return [sample.image, turns[turns.length - 1]!.value] as const;
      }),
    ];
    for (const [image, caption] of captions) {
      const scene = sceneOf(image);
      const label = scene.word ? { text: scene.word.text, cell: CELL_NAMES[scene.word.cell]! } : null;
      const entries = splitInventory(caption.split(' '), scene.objects.map(objectAttributes), label);
      assert.ok(entries, `${image}: "${caption}" is not the scene's ${scene.objects.length} objects${scene.word ? ' and label' : ''}`);
      for (const { key, order } of entries) {
        if (key < 0) {
          labelOrders.set(order, (labelOrders.get(order) ?? 0) + 1);
          continue;
        }
        objectEntries++;
        attributeOrders.add(order);
        const first = order.split(',')[0]!;
        firstAttribute.set(first, (firstAttribute.get(first) ?? 0) + 1);
      }
      if (scene.objects.length === 4) entryOrders.add(entries.map((e) => e.key).join());
    }
    assert.ok(entryOrders.size > 4, `${entryOrders.size} object orders among four-object scenes`);
    assert.equal(attributeOrders.size, 24, `attribute orders seen: ${[...attributeOrders].join(' | ')}`);
    for (const attribute of ['shape', 'color', 'size', 'cell']) {
      const share = (firstAttribute.get(attribute) ?? 0) / objectEntries;
      assert.ok(share > 0.18 && share < 0.32, `${attribute} first in ${(100 * share).toFixed(1)}% of ${objectEntries} entries`);
    }
    const [wordFirst, cellFirst] = [labelOrders.get('word,cell') ?? 0, labelOrders.get('cell,word') ?? 0];
    assert.ok(Math.min(wordFirst, cellFirst) > 0.35 * (wordFirst + cellFirst), `label entries: word first ${wordFirst}, cell first ${cellFirst}`);
  });

  /** The 3x3 grid cell a patch lies in, from patch column and row. */
  const cellOf = (patchColumn: number, patchRow: number) => Math.floor(patchRow / CELL_PATCHES) * 3 + Math.floor(patchColumn / CELL_PATCHES);

  test('each shape fills one patch of its cell, centred; each letter of the word has a patch of its own', () => {
    const perRow = SCENE_SIZE / PATCH_SIZE;
    for (let index = 0; index < 300; index++) {
      const scene = sampleScene(0, index);
      const patches = new Set<number>();
      for (const o of scene.objects) {
        assert.equal((o.cx - PATCH_SIZE / 2) % PATCH_SIZE, 0, `${scene.id}: cx ${o.cx}`);
        assert.equal((o.cy - PATCH_SIZE / 2) % PATCH_SIZE, 0, `${scene.id}: cy ${o.cy}`);
        assert.ok(o.radius < PATCH_SIZE / 2, `${scene.id}: radius ${o.radius}`);
        const [column, row] = [(o.cx - PATCH_SIZE / 2) / PATCH_SIZE, (o.cy - PATCH_SIZE / 2) / PATCH_SIZE];
        assert.equal(cellOf(column, row), o.cell);
        patches.add(row * perRow + column);
      }
      if (scene.word) {
        const { word } = scene;
        assert.equal(word.pitch, PATCH_SIZE);
        const [column, row] = [Math.floor(word.left / PATCH_SIZE), Math.floor(word.top / PATCH_SIZE)];
        // The glyph stays inside its patch, every letter in the word's cell.
        assert.ok(word.left % PATCH_SIZE + GLYPH_WIDTH * word.scale <= PATCH_SIZE && word.top % PATCH_SIZE + GLYPH_HEIGHT * word.scale <= PATCH_SIZE);
        for (let i = 0; i < word.text.length; i++) {
          assert.equal(cellOf(column + i, row), word.cell);
          assert.ok(!patches.has(row * perRow + column + i));
        }
        assert.equal(cellRow(word.cell), Math.floor(row / CELL_PATCHES));
        assert.equal(cellColumn(word.cell), Math.floor(column / CELL_PATCHES));
      }
    }
  });

  test('the pixels hold the scene: each object in its colour at its centre, the word on a white label', async () => {
    for (const sample of pretrain.slice(0, 40)) {
      const scene = sceneOf(sample.image);
      const { data, info } = await sharp(join(dir, 'images', sample.image)).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([info.width, info.height, info.channels], [192, 192, 3]);
      for (const o of scene.objects) {
        const at = (Math.round(o.cy) * info.width + Math.round(o.cx)) * 3;
        assert.deepEqual([...data.subarray(at, at + 3)], [...COLOR_RGB[o.color]], `${sample.id}: ${o.color} ${o.shape}`);
      }
      if (scene.word) {
        const at = ((scene.word.top - 1) * info.width + scene.word.left) * 3;
        assert.deepEqual([...data.subarray(at, at + 3)], [255, 255, 255]);
      }
    }
  });

  test('--tiles k: each shape a k x k block of copies inside its cell, holding its own patch; the questions unchanged', async () => {
    for (let index = 0; index < 100; index++) {
      for (const o of sampleScene(0, index).objects) {
        for (let tiles = 1; tiles <= CELL_PATCHES; tiles++) {
          const centres = tileCentres(o, tiles);
          assert.equal(new Set(centres.map(([x, y]) => `${x},${y}`)).size, tiles * tiles);
          assert.ok(centres.some(([x, y]) => x === o.cx && y === o.cy), `${o.shape} in cell ${o.cell}, tiles ${tiles}: its own patch`);
          for (const [x, y] of centres) {
            assert.equal((x - PATCH_SIZE / 2) % PATCH_SIZE, 0);
            assert.equal((y - PATCH_SIZE / 2) % PATCH_SIZE, 0);
            assert.equal(cellOf(Math.floor(x / PATCH_SIZE), Math.floor(y / PATCH_SIZE)), o.cell);
          }
        }
      }
    }
    const tiled = mkdtempSync(join(tmpdir(), 'visdrop-synth-tiles-'));
    try {
      const tiledMeta = await writeSynthDataset({ outDir: tiled, count: COUNT, seed: SEED, tiles: 3 });
      assert.equal(tiledMeta.tiles, 3);
      assert.deepEqual(readJson(tiled, 'train.json'), train);
      assert.deepEqual(readTestLines(tiled), testLines);
      for (const sample of pretrain.slice(0, 20)) {
        const { data, info } = await sharp(join(tiled, 'images', sample.image)).raw().toBuffer({ resolveWithObject: true });
        for (const o of sceneOf(sample.image).objects) {
          for (const [x, y] of tileCentres(o, 3)) {
            const at = (y * info.width + x) * 3;
            assert.deepEqual([...data.subarray(at, at + 3)], [...COLOR_RGB[o.color]], `${sample.id}: ${o.color} ${o.shape} copy at ${x},${y}`);
          }
        }
      }
      await assert.rejects(writeSynthDataset({ outDir: tiled, count: 1, seed: 0, tiles: 5 }), (e: unknown) => e instanceof OptionError && /--tiles.*1 to 4.*found 5/s.test(e.message));
    } finally {
      rmSync(tiled, { recursive: true, force: true });
    }
  });

  test('train.json, pretrain.json and inventory.json are in LLaVA layout: alternating turns, <image>\\n opening the first human turn only', () => {
    for (const [samples, turns] of [
      [pretrain, 2],
      [inventory, 2],
      [train, undefined],
    ] as const) {
      for (const sample of samples) {
        assert.deepEqual(Object.keys(sample).sort(), ['conversations', 'id', 'image']);
        assert.equal(sample.image, `${sample.id}.png`);
        if (turns !== undefined) assert.equal(sample.conversations.length, turns);
        assert.equal(sample.conversations.length % 2, 0);
        sample.conversations.forEach((turn, i) => {
          assert.equal(turn.from, i % 2 === 0 ? 'human' : 'gpt');
          assert.equal(turn.value.includes('<image>'), i === 0);
          assert.ok(turn.value.trim().length > 0);
        });
        assert.ok(sample.conversations[0]!.value.startsWith('<image>\n'));
      }
    }
    assert.ok(train.every((s) => s.conversations.length >= 8), 'several questions per scene');
  });

  test('test.jsonl lines are LLaVA eval questions with answer and category, ids unique', () => {
    const ids = new Set<string>();
    for (const line of testLines) {
      assert.deepEqual(Object.keys(line), ['question_id', 'image', 'text', 'answer', 'category']);
      assert.ok(FAMILIES.includes(line.category));
      assert.ok(!ids.has(line.question_id));
      ids.add(line.question_id);
    }
  });

  test("the vocabulary covers every word other seeds' data holds", () => {
    const vocabulary = new Set(synthVocabulary());
    for (const seed of [1, 2]) {
      for (let index = 0; index < 500; index++) {
        for (const q of questionsFor(seed, sampleScene(seed, index))) {
          for (const word of splitWords(`${q.text} ${q.answer}`)) assert.ok(vocabulary.has(word), `${word} (seed ${seed}) is missing`);
        }
      }
    }
    for (const sample of [...pretrain, ...inventory, ...train]) {
      for (const turn of sample.conversations) for (const word of splitWords(turn.value.replace('<image>', ''))) assert.ok(vocabulary.has(word), word);
    }
  });

  test("the pixel statistics visdrop-tiny normalises with hold for another seed's scenes", () => {
    const measured = measurePixelStatistics(7, 400);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(measured.mean[c]! - SYNTH_PIXEL_STATISTICS.mean[c]!) < 0.01, `mean ${measured.mean.join(', ')}`);
      assert.ok(Math.abs(measured.std[c]! - SYNTH_PIXEL_STATISTICS.std[c]!) < 0.01, `std ${measured.std.join(', ')}`);
    }
  });
});
