// Draws a Scene into a raw RGB buffer and encodes it as PNG with sharp. Pure integer/float maths
// on our own buffer, so the pixels are the same on every machine; shapes are antialiased by 4x4
// supersampling of each edge pixel.
import sharp from 'sharp';
import { mulberry32 } from '../util/prng.js';
import { forEachInkPixel } from './font.js';
import { BACKGROUND_TINTS, COLOR_RGB, LETTER_OFFSET, tileCentres, type Background, type Scene, type SceneObject, type Shape } from './scene.js';

export interface RgbBuffer {
  readonly width: number;
  readonly height: number;
  /** width * height * 3, row-major RGB. */
  readonly data: Uint8Array;
}

function mix(a: number, b: number, t: number): number {
  return Math.round(a + (b - a) * t);
}

function drawBackground(image: RgbBuffer, background: Background): void {
  const a = BACKGROUND_TINTS[background.tints[0]]!;
  const b = BACKGROUND_TINTS[background.tints[1]]!;
  const noise = mulberry32(background.noiseSeed);
  const { width, height, data } = image;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let t = 0;
      let jitter = 0;
      if (background.kind === 'gradient') {
        t = background.direction === 0 ? y / (height - 1) : background.direction === 1 ? x / (width - 1) : (x + y) / (width + height - 2);
      } else if (background.kind === 'stripes') {
        t = Math.floor((background.direction === 0 ? y : x) / background.period) % 2;
      } else if (background.kind === 'noise') {
        jitter = Math.round((noise() * 2 - 1) * background.period);
      }
      for (let c = 0; c < 3; c++) data[o + c] = Math.min(255, Math.max(0, mix(a[c]!, b[c]!, t) + jitter));
    }
  }
}

/** Five-pointed star, point up, outer radius 1, inner 0.45: its 10 vertices. */
const STAR: ReadonlyArray<readonly [number, number]> = Array.from({ length: 10 }, (_, i) => {
  const r = i % 2 === 0 ? 1 : 0.45;
  const angle = -Math.PI / 2 + (i * Math.PI) / 5;
  return [r * Math.cos(angle), r * Math.sin(angle)] as const;
});

function insidePolygon(u: number, v: number, polygon: ReadonlyArray<readonly [number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > v !== yj > v && u < ((xj - xi) * (v - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether (u, v) in the shape's unit box [-1, 1]^2 (v down) is inside the shape. */
export function insideShape(shape: Shape, u: number, v: number): boolean {
  const au = Math.abs(u);
  const av = Math.abs(v);
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      return au <= 0.82 && av <= 0.82;
    case 'triangle':
      // Apex at the top (v = -0.95), base at v = 0.8, as wide as the box.
      return v >= -0.95 && v <= 0.8 && au <= (v + 0.95) / 1.75;
    case 'diamond':
      return au + av <= 1;
    case 'cross':
      return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95);
    case 'star':
      return insidePolygon(u, v, STAR);
  }
}

const SUBSAMPLES = 4;

function drawObject(image: RgbBuffer, object: SceneObject): void {
  const [r, g, b] = COLOR_RGB[object.color];
  const { width, data } = image;
  const x0 = Math.max(0, Math.floor(object.cx - object.radius - 1));
  const x1 = Math.min(image.width - 1, Math.ceil(object.cx + object.radius + 1));
  const y0 = Math.max(0, Math.floor(object.cy - object.radius - 1));
  const y1 = Math.min(image.height - 1, Math.ceil(object.cy + object.radius + 1));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      let covered = 0;
      for (let sy = 0; sy < SUBSAMPLES; sy++) {
        for (let sx = 0; sx < SUBSAMPLES; sx++) {
          const u = (x + (sx + 0.5) / SUBSAMPLES - object.cx) / object.radius;
          const v = (y + (sy + 0.5) / SUBSAMPLES - object.cy) / object.radius;
          if (insideShape(object.shape, u, v)) covered++;
        }
      }
      if (covered === 0) continue;
      const t = covered / (SUBSAMPLES * SUBSAMPLES);
      const o = (y * width + x) * 3;
      data[o] = mix(data[o]!, r, t);
      data[o + 1] = mix(data[o + 1]!, g, t);
      data[o + 2] = mix(data[o + 2]!, b, t);
    }
  }
}

function fillRect(image: RgbBuffer, left: number, top: number, width: number, height: number, rgb: readonly number[]): void {
  for (let y = top; y < top + height; y++) {
    for (let x = left; x < left + width; x++) {
      const o = (y * image.width + x) * 3;
      image.data.set(rgb, o);
    }
  }
}

/** The scene's pixels; with `tiles` > 1 each shape drawn as a tiles x tiles block of copies (tileCentres). */
export function renderScene(scene: Scene, tiles = 1): RgbBuffer {
  const image: RgbBuffer = { width: scene.size, height: scene.size, data: new Uint8Array(scene.size * scene.size * 3) };
  drawBackground(image, scene.background);
  for (const object of scene.objects) {
    for (const [cx, cy] of tileCentres(object, tiles)) drawObject(image, { ...object, cx, cy });
  }
  const word = scene.word;
  if (word) {
    const text = word.text.toUpperCase();
    // Black capitals on a white label, one patch per letter: legible on every background.
    fillRect(image, word.left - LETTER_OFFSET[0], word.top - LETTER_OFFSET[1], text.length * word.pitch, word.pitch, [255, 255, 255]);
    forEachInkPixel(text, word.left, word.top, word.scale, (x, y) => image.data.set([0, 0, 0], (y * image.width + x) * 3), word.pitch);
  }
  return image;
}

/** PNG bytes of the scene: fixed encoder settings, no metadata, so the bytes depend on the pixels alone. */
export async function encodeScenePng(image: RgbBuffer): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}
