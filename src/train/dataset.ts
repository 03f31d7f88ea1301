// Training data in LLaVA's own format (llava_v1_5_mix665k.json, blip_laion_cc_sbu_558k.json): a JSON
// list of {id, image?, conversations: [{from: "human" | "gpt", value}, ...]} and an image folder the
// `image` paths are relative to. Everything is checked before training starts, so a bad sample
// costs seconds, not hours: the list's shape, the speakers, the `<image>` marker against the
// `image` key, and that every named image file exists.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DataError, describe } from '../errors.js';

/** LLaVA's image placeholder in conversation text (DEFAULT_IMAGE_TOKEN). */
export const IMAGE_PLACEHOLDER = '<image>';

export interface ConversationTurn {
  readonly from: 'human' | 'gpt';
  readonly value: string;
}

export interface DatasetSample {
  /** Place in the JSON list. */
  readonly index: number;
  /** The sample's `id` as a string ('' when absent), for messages. */
  readonly id: string;
  /** Absolute path of the image, or null for a text-only sample. */
  readonly image: string | null;
  readonly conversations: readonly ConversationTurn[];
}

const turnSchema = z.object({ from: z.string(), value: z.string() });
const sampleSchema = z
  .object({
    id: z.union([z.string(), z.number()]).optional(),
    image: z.string().min(1).optional(),
    conversations: z.array(turnSchema).min(1, 'at least one turn'),
  })
  .passthrough();

/** How a sample is named in errors: `data.json: sample 12 (id "000000033471")`. */
export function sampleSubject(file: string, index: number, id: string): string {
  return `${file}: sample ${index}${id === '' ? '' : ` (id ${JSON.stringify(id)})`}`;
}

function countPlaceholders(text: string): number {
  return text.split(IMAGE_PLACEHOLDER).length - 1;
}

/** Reads and checks a LLaVA-format dataset; `imageDir` is where the `image` paths are relative to. */
export function loadDataset(file: string, imageDir: string | undefined): DatasetSample[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    const found = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (cause as Error).message;
    throw new DataError({ subject: file, expected: 'a JSON list of LLaVA conversation samples', found, cause });
  }
  if (!Array.isArray(raw)) throw new DataError({ subject: file, expected: 'a JSON list of samples', found: describe(raw) });
  if (raw.length === 0) throw new DataError({ subject: file, expected: 'at least one sample', found: 'an empty list' });
  if (imageDir !== undefined && !(existsSync(imageDir) && statSync(imageDir).isDirectory())) {
    throw new DataError({ subject: '--images', expected: 'an image folder', found: `${JSON.stringify(imageDir)}: no such directory` });
  }
  return raw.map((entry, index) => checkSample(file, imageDir, entry, index));
}

function checkSample(file: string, imageDir: string | undefined, entry: unknown, index: number): DatasetSample {
  const parsed = sampleSchema.safeParse(entry);
  const rawId = typeof entry === 'object' && entry !== null && 'id' in entry ? (entry as { id: unknown }).id : undefined;
  const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : '';
  const subject = sampleSubject(file, index, id);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DataError({
      subject: `${subject}: ${issue.path.join('.') || 'sample'}`,
      expected: issue.message === 'Required' ? 'a value' : issue.message,
      found: describe(issue.path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k as string | number], entry)),
    });
  }
  const conversations = parsed.data.conversations.map((turn, t) => {
    if (turn.from !== 'human' && turn.from !== 'gpt') {
      throw new DataError({ subject: `${subject}: conversations.${t}.from`, expected: '"human" or "gpt"', found: describe(turn.from) });
    }
    return { from: turn.from, value: turn.value } as ConversationTurn;
  });
  const markers = conversations.reduce((n, turn) => n + countPlaceholders(turn.value), 0);
  const image = parsed.data.image;
  if (image !== undefined && markers !== 1) {
    throw new DataError({
      subject,
      expected: `one ${IMAGE_PLACEHOLDER} in its conversation, since it names the image ${JSON.stringify(image)}`,
      found: `${markers} ${IMAGE_PLACEHOLDER} markers`,
    });
  }
  if (image === undefined && markers > 0) {
    throw new DataError({
      subject,
      expected: `no ${IMAGE_PLACEHOLDER} in its conversation, since it names no image`,
      found: `${markers} ${IMAGE_PLACEHOLDER} marker${markers === 1 ? '' : 's'}`,
    });
  }
  let imagePath: string | null = null;
  if (image !== undefined) {
    if (imageDir === undefined) {
      throw new DataError({ subject, expected: 'an image folder (--images) for the image it names', found: JSON.stringify(image) });
    }
    imagePath = join(imageDir, image);
    if (!existsSync(imagePath)) throw new DataError({ subject: `${subject}: image`, expected: 'an existing image file', found: `${JSON.stringify(imagePath)}: no such file` });
  }
  return { index, id, image: imagePath, conversations };
}
