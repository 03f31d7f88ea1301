// `visdrop synth`: writes a synthetic visual question set in LLaVA's own formats. The layout is a
// contract (the trainer and the evaluation read it):
//   DIR/images/<scene-id>.png
//   DIR/pretrain.json  blip_laion_cc_sbu_558k.json's layout: one description per training scene
//   DIR/inventory.json the same layout: one inventory caption per training scene (a curriculum stage)
//   DIR/train.json     llava_v1_5_mix665k.json's layout: one multi-turn conversation per training scene
//   DIR/test.jsonl     held-out scenes, one question per line (LLaVA's eval question file + answer, category)
//   DIR/meta.json      seed, counts per split and family, generator version
// A scene is in the test split when a seeded hash of its id says so (1 in 10), so the split never
// shares a scene and does not depend on --count. Every scene draws from its own seeded PRNGs.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OptionError } from '../errors.js';
import { DESCRIPTION_INSTRUCTIONS, describeScene, inventoryCaption } from './describe.js';
import { EXISTENCE_SAMPLINGS, FAMILIES, SHORT_ANSWER_SUFFIX, sceneQuestions, type Family, type Question } from './questions.js';
import { encodeScenePng, renderScene } from './render.js';
import { CELL_PATCHES, SCENE_SIZE, hashString, pick, sampleScene, sceneRandom, shuffled, type Scene } from './scene.js';

/** Bumped whenever the same seed would give different files. */
export const SYNTH_GENERATOR_VERSION = 7;
/** One scene in TEST_MODULUS goes to the test split. */
const TEST_MODULUS = 10;
/** Fine-tuning conversations carry a description turn this often, as mix665k mixes captions with VQA. */
const DESCRIPTION_TURN_RATE = 0.2;

export type Split = 'train' | 'test';

export function sceneSplit(seed: number, id: string): Split {
  return hashString(`${seed}/${id}/split`) % TEST_MODULUS === 0 ? 'test' : 'train';
}

export interface LlavaTurn {
  readonly from: 'human' | 'gpt';
  readonly value: string;
}

export interface LlavaSample {
  readonly id: string;
  readonly image: string;
  readonly conversations: readonly LlavaTurn[];
}

export interface TestQuestion {
  readonly question_id: string;
  readonly image: string;
  readonly text: string;
  readonly answer: string;
  readonly category: Family;
}

export interface SynthMeta {
  readonly generator: 'visdrop synth';
  readonly version: number;
  readonly seed: number;
  readonly count: number;
  readonly imageSize: number;
  /** Copies per side of each shape's block (1: the shape alone). */
  readonly tiles: number;
  readonly splits: {
    readonly train: { scenes: number; pretrainSamples: number; inventorySamples: number; conversations: number; questions: number; questionsPerFamily: Record<Family, number> };
    readonly test: { scenes: number; questions: number; questionsPerFamily: Record<Family, number>; existencePerSampling: Record<string, number> };
  };
}

export interface SynthOptions {
  readonly outDir: string;
  readonly count: number;
  readonly seed: number;
  /** Each shape drawn as a tiles x tiles block of copies of itself, 1 to 4 (default 1, the one-patch objects); the questions do not change. */
  readonly tiles?: number;
  /** Called after each scene is written (index from 0). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** The short-answer prompt of a question, as LLaVA-1.5's VQA data and eval files write it. */
export function shortAnswerPrompt(question: Question): string {
  return `${question.text}\n${SHORT_ANSWER_SUFFIX}`;
}

export function imageFileName(scene: Scene): string {
  return `${scene.id}.png`;
}

export function pretrainSample(seed: number, scene: Scene): LlavaSample {
  const instruction = pick(sceneRandom(seed, scene.id, 'pretrain'), DESCRIPTION_INSTRUCTIONS);
  return {
    id: scene.id,
    image: imageFileName(scene),
    conversations: [
      { from: 'human', value: `<image>\n${instruction}` },
      { from: 'gpt', value: describeScene(scene) },
    ],
  };
}

/**
 * The question that asks for a scene's inventory in a conversation (words the vocabulary has). Every
 * fine-tuning conversation ends with it: the lookups the inventory pre-training taught (an object's
 * attributes read off the token its shape or colour names) then keeps being trained under the chat template while the
 * questions' extra hop is learned; without it, fine-tuning erased the lookup within 550 steps
 * (README, "visdrop-tiny"). Last, so no question can copy its answer from it.
 */
export const INVENTORY_QUESTION = 'List the objects in the image.';

/** The scene's inventory caption after one of the description instructions (the plain template drops the instruction). */
export function inventorySample(seed: number, scene: Scene): LlavaSample {
  const random = sceneRandom(seed, scene.id, 'inventory');
  const instruction = pick(random, DESCRIPTION_INSTRUCTIONS);
  return {
    id: scene.id,
    image: imageFileName(scene),
    conversations: [
      { from: 'human', value: `<image>\n${instruction}` },
      { from: 'gpt', value: inventoryCaption(scene, random) },
    ],
  };
}

/** The scene's questions as one conversation, `<image>\n` opening the first human turn only. */
export function finetuneSample(seed: number, scene: Scene, questions: readonly Question[]): LlavaSample {
  const random = sceneRandom(seed, scene.id, 'conversation');
  const turns: Array<[string, string]> = shuffled(random, questions).map((q) => [shortAnswerPrompt(q), q.answer]);
  if (random() < DESCRIPTION_TURN_RATE) turns.push([pick(random, DESCRIPTION_INSTRUCTIONS), describeScene(scene)]);
  turns.push([INVENTORY_QUESTION, inventoryCaption(scene, random)]);
  return {
    id: scene.id,
    image: imageFileName(scene),
    conversations: turns.flatMap(([question, answer], i) => [
      { from: 'human' as const, value: i === 0 ? `<image>\n${question}` : question },
      { from: 'gpt' as const, value: answer },
    ]),
  };
}

export function testQuestions(scene: Scene, questions: readonly Question[]): TestQuestion[] {
  return questions.map((q, i) => ({
    question_id: `${scene.id}-${i}-${q.family}-${q.variant.replaceAll(' ', '-')}`,
    image: imageFileName(scene),
    text: shortAnswerPrompt(q),
    answer: q.answer,
    category: q.family,
  }));
}

/** The scene's questions: the same for the same seed and scene, whichever split it lands in. */
export function questionsFor(seed: number, scene: Scene): Question[] {
  return sceneQuestions(scene, sceneRandom(seed, scene.id, 'questions'));
}

function zeroPerFamily(): Record<Family, number> {
  return Object.fromEntries(FAMILIES.map((f) => [f, 0])) as Record<Family, number>;
}

/** A JSON array with one element per line: as compact as LLaVA's files, still readable with `head`. */
function jsonArrayText(items: readonly unknown[]): string {
  return `[\n${items.map((item) => JSON.stringify(item)).join(',\n')}\n]\n`;
}

/** Writes through a temporary name, so a killed run never leaves a truncated file under the real one. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.partial`, text);
  renameSync(`${path}.partial`, path);
}

/** How many PNGs are encoded at once (sharp encodes off the main thread). */
const ENCODE_CONCURRENCY = 4;

export async function writeSynthDataset(options: SynthOptions): Promise<SynthMeta> {
  const { outDir, count, seed } = options;
  if (!Number.isInteger(count) || count < 1) throw new OptionError({ subject: '--count', expected: 'a whole number >= 1', found: String(count) });
  if (!Number.isInteger(seed) || seed < 0) throw new OptionError({ subject: '--seed', expected: 'a whole number >= 0', found: String(seed) });
  const tiles = options.tiles ?? 1;
  if (!Number.isInteger(tiles) || tiles < 1 || tiles > CELL_PATCHES) {
    throw new OptionError({ subject: '--tiles', expected: `a whole number from 1 to ${CELL_PATCHES} (a cell's patches per side)`, found: String(tiles) });
  }
  const imageDir = join(outDir, 'images');
  mkdirSync(imageDir, { recursive: true });
  const pretrain: LlavaSample[] = [];
  const inventory: LlavaSample[] = [];
  const train: LlavaSample[] = [];
  const test: TestQuestion[] = [];
  const trainPerFamily = zeroPerFamily();
  const testPerFamily = zeroPerFamily();
  const existencePerSampling: Record<string, number> = Object.fromEntries(['positive', ...EXISTENCE_SAMPLINGS].map((s) => [s, 0]));
  let trainQuestions = 0;
  let testScenes = 0;
  let done = 0;
  const writeImage = async (scene: Scene) => {
    writeFileSync(join(imageDir, imageFileName(scene)), await encodeScenePng(renderScene(scene, tiles)));
    options.onProgress?.(++done, count);
  };
  let inFlight: Promise<void>[] = [];
  for (let index = 0; index < count; index++) {
    const scene = sampleScene(seed, index);
    const questions = questionsFor(seed, scene);
    if (sceneSplit(seed, scene.id) === 'test') {
      testScenes++;
      test.push(...testQuestions(scene, questions));
      for (const q of questions) {
        testPerFamily[q.family]++;
        if (q.family === 'existence') existencePerSampling[q.variant]!++;
      }
    } else {
      pretrain.push(pretrainSample(seed, scene));
      inventory.push(inventorySample(seed, scene));
      train.push(finetuneSample(seed, scene, questions));
      trainQuestions += questions.length;
      for (const q of questions) trainPerFamily[q.family]++;
    }
    inFlight.push(writeImage(scene));
    if (inFlight.length >= ENCODE_CONCURRENCY) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  const meta: SynthMeta = {
    generator: 'visdrop synth',
    version: SYNTH_GENERATOR_VERSION,
    seed,
    count,
    imageSize: SCENE_SIZE,
    tiles,
    splits: {
      train: { scenes: train.length, pretrainSamples: pretrain.length, inventorySamples: inventory.length, conversations: train.length, questions: trainQuestions, questionsPerFamily: trainPerFamily },
      test: { scenes: testScenes, questions: test.length, questionsPerFamily: testPerFamily, existencePerSampling },
    },
  };
  writeAtomically(join(outDir, 'pretrain.json'), jsonArrayText(pretrain));
  writeAtomically(join(outDir, 'inventory.json'), jsonArrayText(inventory));
  writeAtomically(join(outDir, 'train.json'), jsonArrayText(train));
  writeAtomically(join(outDir, 'test.jsonl'), test.map((q) => `${JSON.stringify(q)}\n`).join(''));
  writeAtomically(join(outDir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return meta;
}
