// Questions about a Scene, by family, each answer computed from the scene object. Objects are named
// by the shortest unambiguous phrase (`the star`, `the small star`, `the star in the top left`),
// so every question has exactly one right answer. Existence negatives are drawn as POPE draws them:
// at random, from the most frequent objects, and from objects whose colour and shape both occur in
// the scene but not together (the co-occurring, adversarial kind).
import {
  CELL_NAMES,
  COLORS,
  COLOR_WEIGHTS,
  SHAPES,
  SHAPE_PLURALS,
  SHAPE_WEIGHTS,
  cellColumn,
  cellRow,
  pick,
  shuffled,
  type Color,
  type Random,
  type Scene,
  type SceneObject,
  type Shape,
} from './scene.js';

export const FAMILIES = ['color', 'shape', 'count', 'position', 'relation', 'existence', 'reading', 'comparison'] as const;
export type Family = (typeof FAMILIES)[number];

export const EXISTENCE_SAMPLINGS = ['random', 'popular', 'adversarial'] as const;
export type ExistenceSampling = (typeof EXISTENCE_SAMPLINGS)[number];

export interface Question {
  readonly family: Family;
  /** The question without LLaVA's short-answer suffix. */
  readonly text: string;
  readonly answer: string;
  /** existence: `positive` or how the negative was drawn; other families: their template's name. */
  readonly variant: string;
}

/** LLaVA-1.5's prompt for short answers (VQAv2, GQA, TextVQA, ... in llava_v1_5_mix665k). */
export const SHORT_ANSWER_SUFFIX = 'Answer the question using a single word or phrase.';

/** Where a cell is, as a phrase after a noun: "the star in the top left", "the circle at the top". */
export function locationPhrase(cell: number): string {
  const name = CELL_NAMES[cell]!;
  if (name === 'top' || name === 'bottom') return `at the ${name}`;
  if (name === 'left' || name === 'right') return `on the ${name}`;
  return `in the ${name}`;
}

function unique(scene: Scene, object: SceneObject, same: (a: SceneObject, b: SceneObject) => boolean): boolean {
  return scene.objects.filter((o) => same(o, object)).length === 1;
}

/** "the star" / "the small star" / "the star in the top left": names `object` without its colour. */
function nameWithoutColor(scene: Scene, object: SceneObject): string {
  if (unique(scene, object, (a, b) => a.shape === b.shape)) return `the ${object.shape}`;
  if (unique(scene, object, (a, b) => a.shape === b.shape && a.size === b.size)) return `the ${object.size} ${object.shape}`;
  return `the ${object.shape} ${locationPhrase(object.cell)}`;
}

/** "the red object" / "the small red object" / "the object in the top left": without its shape. */
function nameWithoutShape(scene: Scene, object: SceneObject): string {
  if (unique(scene, object, (a, b) => a.color === b.color)) return `the ${object.color} object`;
  if (unique(scene, object, (a, b) => a.color === b.color && a.size === b.size)) return `the ${object.size} ${object.color} object`;
  return `the object ${locationPhrase(object.cell)}`;
}

/** Colour and shape name one object: each pair occurs at most once in a scene. */
function fullName(object: SceneObject): string {
  return `${object.color} ${object.shape}`;
}

function colorQuestion(scene: Scene, random: Random): Question {
  const object = pick(random, scene.objects);
  return { family: 'color', text: `What color is ${nameWithoutColor(scene, object)}?`, answer: object.color, variant: 'object' };
}

function shapeQuestion(scene: Scene, random: Random): Question {
  const object = pick(random, scene.objects);
  return { family: 'shape', text: `What shape is ${nameWithoutShape(scene, object)}?`, answer: object.shape, variant: 'object' };
}

function countQuestion(scene: Scene, random: Random): Question {
  const kind = pick(random, ['shape', 'shape', 'color', 'all'] as const);
  if (kind === 'all') {
    return { family: 'count', text: 'How many shapes are there in the image?', answer: String(scene.objects.length), variant: 'all' };
  }
  if (kind === 'shape') {
    // Mostly shapes present; one in five asks for one that may be absent (answer 0 or more).
    const shape: Shape = random() < 0.8 ? pick(random, scene.objects).shape : pick(random, SHAPES);
    const count = scene.objects.filter((o) => o.shape === shape).length;
    return { family: 'count', text: `How many ${SHAPE_PLURALS[shape]} are there?`, answer: String(count), variant: 'shape' };
  }
  const color: Color = random() < 0.8 ? pick(random, scene.objects).color : pick(random, COLORS);
  const count = scene.objects.filter((o) => o.color === color).length;
  return { family: 'count', text: `How many ${color} shapes are there?`, answer: String(count), variant: 'color' };
}

function positionQuestion(scene: Scene, random: Random): Question {
  if (scene.word && random() < 0.2) {
    return { family: 'position', text: 'Where is the label in the image?', answer: CELL_NAMES[scene.word.cell]!, variant: 'label' };
  }
  const object = pick(random, scene.objects);
  return { family: 'position', text: `Where is the ${fullName(object)} in the image?`, answer: CELL_NAMES[object.cell]!, variant: 'object' };
}

type Relation = 'to the left of' | 'to the right of' | 'above' | 'below';

/** The relations that hold between a and b (by grid cell: only strict, unambiguous ones). */
function relationsBetween(a: SceneObject, b: SceneObject): Relation[] {
  const out: Relation[] = [];
  if (cellColumn(a.cell) < cellColumn(b.cell)) out.push('to the left of');
  if (cellColumn(a.cell) > cellColumn(b.cell)) out.push('to the right of');
  if (cellRow(a.cell) < cellRow(b.cell)) out.push('above');
  if (cellRow(a.cell) > cellRow(b.cell)) out.push('below');
  return out;
}

const OPPOSITE: Readonly<Record<Relation, Relation>> = {
  'to the left of': 'to the right of',
  'to the right of': 'to the left of',
  above: 'below',
  below: 'above',
};

function relationQuestion(scene: Scene, random: Random): Question | undefined {
  if (scene.objects.length < 2) return undefined;
  const [a, b] = shuffled(random, scene.objects) as [SceneObject, SceneObject];
  const holds = pick(random, relationsBetween(a, b));
  const truthful = random() < 0.5;
  const asked = truthful ? holds : OPPOSITE[holds];
  return {
    family: 'relation',
    text: `Is the ${fullName(a)} ${asked} the ${fullName(b)}?`,
    answer: truthful ? 'yes' : 'no',
    variant: asked.replace(/^to the /, '').replace(/ of$/, ''),
  };
}

type Kind = { readonly color: Color; readonly shape: Shape };

/** Every (colour, shape) by how often the generator draws it, most frequent first. */
const KINDS_BY_FREQUENCY: readonly Kind[] = COLORS.flatMap((color) => SHAPES.map((shape) => ({ color, shape }))).sort(
  (x, y) => COLOR_WEIGHTS[y.color] * SHAPE_WEIGHTS[y.shape] - COLOR_WEIGHTS[x.color] * SHAPE_WEIGHTS[x.shape],
);
/** POPE's popular negatives come from the top of the frequency list. */
const POPULAR_POOL = 6;

function absentKinds(scene: Scene): Kind[] {
  return KINDS_BY_FREQUENCY.filter((k) => !scene.objects.some((o) => o.color === k.color && o.shape === k.shape));
}

/** A negative drawn as `sampling` says; adversarial falls back to "same shape, another colour" when no pair mixes. */
function negativeKind(scene: Scene, random: Random, sampling: ExistenceSampling): Kind {
  const absent = absentKinds(scene);
  if (sampling === 'random') return pick(random, absent);
  if (sampling === 'popular') return pick(random, absent.slice(0, POPULAR_POOL));
  const colors = new Set(scene.objects.map((o) => o.color));
  const shapes = new Set(scene.objects.map((o) => o.shape));
  const mixed = absent.filter((k) => colors.has(k.color) && shapes.has(k.shape));
  if (mixed.length > 0) return pick(random, mixed);
  return pick(random, absent.filter((k) => shapes.has(k.shape)));
}

function existenceQuestion(scene: Scene, random: Random, sampling: ExistenceSampling | 'positive'): Question {
  const kind: Kind = sampling === 'positive' ? pick(random, scene.objects) : negativeKind(scene, random, sampling);
  return {
    family: 'existence',
    text: `Is there a ${kind.color} ${kind.shape} in the image?`,
    answer: sampling === 'positive' ? 'yes' : 'no',
    variant: sampling,
  };
}

const READING_TEMPLATES = ['What word is written in the image?', 'What does the label say?', 'What is written on the label?'] as const;

function readingQuestion(scene: Scene, random: Random): Question | undefined {
  if (!scene.word) return undefined;
  return { family: 'reading', text: pick(random, READING_TEMPLATES), answer: scene.word.text, variant: 'word' };
}

function comparisonQuestion(scene: Scene, random: Random): Question | undefined {
  const large = scene.objects.filter((o) => o.size === 'large');
  const small = scene.objects.filter((o) => o.size === 'small');
  if (large.length > 0 && small.length > 0 && random() < 0.6) {
    const big = pick(random, large);
    const little = pick(random, small);
    const [first, second] = random() < 0.5 ? [big, little] : [little, big];
    return { family: 'comparison', text: `Which is bigger, the ${fullName(first)} or the ${fullName(second)}?`, answer: fullName(big), variant: 'bigger' };
  }
  // "More": two colours, at least one present, with different counts (a tie has no answer worth asking).
  const counts = (color: Color) => scene.objects.filter((o) => o.color === color).length;
  const present = [...new Set(scene.objects.map((o) => o.color))];
  const first = pick(random, present);
  const others = COLORS.filter((c) => c !== first && counts(c) !== counts(first));
  if (others.length === 0) return undefined;
  const second = pick(random, others);
  const [x, y] = random() < 0.5 ? [first, second] : [second, first];
  return { family: 'comparison', text: `Are there more ${x} shapes than ${y} shapes?`, answer: counts(x) > counts(y) ? 'yes' : 'no', variant: 'more' };
}

/** One question per family that applies to the scene (reading needs a word, relation two objects), two for existence. */
export function sceneQuestions(scene: Scene, random: Random): Question[] {
  const negative = pick(random, EXISTENCE_SAMPLINGS);
  const questions = [
    colorQuestion(scene, random),
    shapeQuestion(scene, random),
    countQuestion(scene, random),
    positionQuestion(scene, random),
    relationQuestion(scene, random),
    existenceQuestion(scene, random, 'positive'),
    existenceQuestion(scene, random, negative),
    readingQuestion(scene, random),
    comparisonQuestion(scene, random),
  ];
  return questions.filter((q): q is Question => q !== undefined);
}
