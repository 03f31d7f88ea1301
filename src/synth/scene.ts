// A synthetic scene as data: a background and up to four shapes on a 3x3 grid of cells, perhaps a
// word on a label. Everything sits on the vision tower's 16-px patch grid: each shape fills one
// patch, centred in it, and each letter of the word has a patch of its own, so every object is one
// image token whose pixels alone tell its colour, shape and size (a randomly initialised tower, kept
// frozen, cannot gather a shape spread over several patches; see README, "visdrop-tiny").
// Everything the questions and the description say is computed from this object, and the picture
// is drawn from it alone, so answers are consistent with the pixels by construction.
// Shapes and colours are drawn with unequal weights, so some objects are "popular" (POPE's sense).
import { mulberry32 } from '../util/prng.js';

export const SHAPES = ['circle', 'square', 'triangle', 'star', 'cross', 'diamond'] as const;
export type Shape = (typeof SHAPES)[number];
/** How often each shape is drawn (sums to 1): circles are the frequent object, as "person" is in COCO. */
export const SHAPE_WEIGHTS: Readonly<Record<Shape, number>> = { circle: 0.26, square: 0.22, triangle: 0.18, star: 0.12, cross: 0.11, diamond: 0.11 };
export const SHAPE_PLURALS: Readonly<Record<Shape, string>> = {
  circle: 'circles',
  square: 'squares',
  triangle: 'triangles',
  star: 'stars',
  cross: 'crosses',
  diamond: 'diamonds',
};

export const COLORS = ['red', 'blue', 'green', 'yellow', 'orange', 'purple', 'black'] as const;
export type Color = (typeof COLORS)[number];
export const COLOR_WEIGHTS: Readonly<Record<Color, number>> = { red: 0.22, blue: 0.2, green: 0.16, yellow: 0.13, orange: 0.1, purple: 0.1, black: 0.09 };
/** Saturated object colours, far from every background tint below. */
export const COLOR_RGB: Readonly<Record<Color, readonly [number, number, number]>> = {
  red: [220, 30, 30],
  blue: [30, 70, 220],
  green: [20, 150, 40],
  yellow: [235, 200, 0],
  orange: [245, 120, 10],
  purple: [130, 30, 170],
  black: [20, 20, 20],
};

export const BACKGROUNDS = ['plain', 'gradient', 'noise', 'stripes'] as const;
export type BackgroundKind = (typeof BACKGROUNDS)[number];
/** Pale tints the backgrounds are made of. */
export const BACKGROUND_TINTS: ReadonlyArray<readonly [number, number, number]> = [
  [205, 205, 205],
  [235, 225, 200],
  [200, 220, 238],
  [205, 236, 215],
  [242, 215, 222],
  [222, 214, 242],
  [245, 245, 245],
];

/** Short words for the label (3-4 letters, no colour or shape names, so reading is its own skill). */
export const WORDS = ['cat', 'dog', 'sun', 'car', 'box', 'map', 'hat', 'cup', 'key', 'pen', 'bus', 'fox', 'owl', 'bee', 'egg', 'jam', 'zoo', 'ice', 'tree', 'fish', 'bird', 'cake', 'moon', 'ship'] as const;

export const SIZES = ['large', 'small'] as const;
export type Size = (typeof SIZES)[number];

/** The 3x3 grid, row-major; names as the position answers give them. */
export const CELL_NAMES = ['top left', 'top', 'top right', 'left', 'center', 'right', 'bottom left', 'bottom', 'bottom right'] as const;
export type CellName = (typeof CELL_NAMES)[number];

export interface SceneObject {
  readonly shape: Shape;
  readonly color: Color;
  readonly size: Size;
  /** 0..8, row-major in the 3x3 grid. */
  readonly cell: number;
  /** Centre and radius (half the extent) in pixels. */
  readonly cx: number;
  readonly cy: number;
  readonly radius: number;
}

export interface SceneWord {
  readonly text: string;
  readonly cell: number;
  /** Image pixels per font pixel. */
  readonly scale: number;
  /** Top left of the first letter, in pixels. */
  readonly left: number;
  readonly top: number;
  /** Pixels from one letter's left edge to the next one's (one patch). */
  readonly pitch: number;
}

export interface Background {
  readonly kind: BackgroundKind;
  /** Indices into BACKGROUND_TINTS. */
  readonly tints: readonly [number, number];
  /** gradient: 0 = top to bottom, 1 = left to right, 2 = diagonal; stripes: 0 horizontal, 1 vertical. */
  readonly direction: number;
  /** stripes: width in pixels; noise: amplitude. */
  readonly period: number;
  /** noise: the seed of its pixels. */
  readonly noiseSeed: number;
}

export interface Scene {
  readonly id: string;
  readonly size: number;
  readonly background: Background;
  readonly objects: readonly SceneObject[];
  readonly word: SceneWord | null;
}

export const SCENE_SIZE = 192;
/** The vision tower's patch: the grid objects and letters are placed on. */
export const PATCH_SIZE = 16;
/** A cell of the 3x3 grid is 4x4 patches. */
export const CELL_PATCHES = SCENE_SIZE / PATCH_SIZE / 3;
/** Radii in pixels: a large shape spans 14 of its patch's 16 pixels, a small one 10. */
export const SHAPE_RADIUS: Readonly<Record<Size, number>> = { large: 7, small: 5 };
/** A 5x7 glyph at scale 2 is 10x14 pixels: inside one patch with room around it. */
const WORD_SCALE = 2;
/** Where a letter sits inside its patch (the white label starts at the patch's corner). */
export const LETTER_OFFSET: readonly [number, number] = [3, 1];

export type Random = () => number;

export function randomInt(random: Random, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

export function pickWeighted<K extends string>(random: Random, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  let r = random() * entries.reduce((s, [, w]) => s + w, 0);
  for (const [key, w] of entries) {
    r -= w;
    if (r < 0) return key;
  }
  return entries[entries.length - 1]![0];
}

/** Fisher-Yates with `random`; returns a new array. */
export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** FNV-1a of a string: seeds derived from names, the same on every machine. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A PRNG for one purpose of one scene: scenes are independent of each other and of the count. */
export function sceneRandom(seed: number, id: string, purpose: string): Random {
  return mulberry32(hashString(`${seed}/${id}/${purpose}`));
}

export function sceneId(index: number): string {
  return `scene-${String(index).padStart(6, '0')}`;
}

/** Draws scene `index` of the set with `seed`. */
export function sampleScene(seed: number, index: number): Scene {
  const id = sceneId(index);
  const random = sceneRandom(seed, id, 'scene');
  const tintA = randomInt(random, 0, BACKGROUND_TINTS.length - 1);
  const tintB = (tintA + randomInt(random, 1, BACKGROUND_TINTS.length - 1)) % BACKGROUND_TINTS.length;
  const kind = pick(random, BACKGROUNDS);
  const background: Background = {
    kind,
    tints: [tintA, tintB],
    direction: randomInt(random, 0, kind === 'stripes' ? 1 : 2),
    period: kind === 'stripes' ? randomInt(random, 4, 12) : randomInt(random, 10, 24),
    noiseSeed: Math.floor(random() * 2 ** 32),
  };
  const cells = shuffled(random, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const objectCount = pick(random, [1, 2, 2, 3, 3, 3, 4, 4]);
  const objects: SceneObject[] = [];
  while (objects.length < objectCount) {
    const shape = pickWeighted(random, SHAPE_WEIGHTS);
    const color = pickWeighted(random, COLOR_WEIGHTS);
    // Every (colour, shape) at most once, so "the red circle" always names one object.
    if (objects.some((o) => o.shape === shape && o.color === color)) continue;
    const size: Size = random() < 0.35 ? 'small' : 'large';
    const cell = cells[objects.length]!;
    // Any patch of the cell, the shape centred in it: neighbours keep at least 2 pixels apart.
    const column = cellColumn(cell) * CELL_PATCHES + randomInt(random, 0, CELL_PATCHES - 1);
    const row = cellRow(cell) * CELL_PATCHES + randomInt(random, 0, CELL_PATCHES - 1);
    const cx = column * PATCH_SIZE + PATCH_SIZE / 2;
    const cy = row * PATCH_SIZE + PATCH_SIZE / 2;
    objects.push({ shape, color, size, cell, cx, cy, radius: SHAPE_RADIUS[size] });
  }
  let word: SceneWord | null = null;
  if (random() < 0.5) {
    const text = pick(random, WORDS);
    const cell = cells[objects.length]!;
    // One patch per letter, in a row of the cell's patches.
    const column = cellColumn(cell) * CELL_PATCHES + randomInt(random, 0, CELL_PATCHES - text.length);
    const row = cellRow(cell) * CELL_PATCHES + randomInt(random, 0, CELL_PATCHES - 1);
    word = { text, cell, scale: WORD_SCALE, left: column * PATCH_SIZE + LETTER_OFFSET[0], top: row * PATCH_SIZE + LETTER_OFFSET[1], pitch: PATCH_SIZE };
  }
  return { id, size: SCENE_SIZE, background, objects, word };
}

/**
 * The centres of `tiles` x `tiles` copies of `object`: the block of patches inside the object's cell
 * that holds its own patch, as near centred on it as the cell allows (tiles 1: the object alone;
 * tiles 4: the whole cell). Each copy fills one patch as the object does, so a larger block gives the
 * same one-patch picture of the object more image tokens: a curriculum aid (README, "visdrop-tiny").
 */
export function tileCentres(object: SceneObject, tiles: number): Array<readonly [number, number]> {
  const column = (object.cx - PATCH_SIZE / 2) / PATCH_SIZE;
  const row = (object.cy - PATCH_SIZE / 2) / PATCH_SIZE;
  const firstColumn = cellColumn(object.cell) * CELL_PATCHES;
  const firstRow = cellRow(object.cell) * CELL_PATCHES;
  const start = (patch: number, first: number) => Math.min(Math.max(patch - Math.floor((tiles - 1) / 2), first), first + CELL_PATCHES - tiles);
  const [left, top] = [start(column, firstColumn), start(row, firstRow)];
  const centres: Array<readonly [number, number]> = [];
  for (let r = top; r < top + tiles; r++) {
    for (let c = left; c < left + tiles; c++) centres.push([c * PATCH_SIZE + PATCH_SIZE / 2, r * PATCH_SIZE + PATCH_SIZE / 2]);
  }
  return centres;
}

export function cellRow(cell: number): number {
  return Math.floor(cell / 3);
}

export function cellColumn(cell: number): number {
  return cell % 3;
}
