// MME as its official eval_tool/calculation.py scores it: answers lower-cased; exactly "yes"/"no",
// else "yes" or "no" within the first 4 characters, else "other" (wrong). Per subtask acc (per
// question) and acc+ (images with both questions right), score = 100 acc + 100 acc+; Perception is
// the sum over its 10 subtasks (max 2000), Cognition over its 4 (max 800).

export const MME_PERCEPTION = ['existence', 'count', 'position', 'color', 'posters', 'celebrity', 'scene', 'landmark', 'artwork', 'OCR'] as const;
export const MME_COGNITION = ['commonsense_reasoning', 'numerical_calculation', 'text_translation', 'code_reasoning'] as const;
export const MME_SUBTASKS: readonly string[] = [...MME_PERCEPTION, ...MME_COGNITION];

export function parseMmeAnswer(text: string): 'yes' | 'no' | 'other' {
  const answer = text.toLowerCase();
  if (answer === 'yes' || answer === 'no') return answer;
  const prefix = answer.slice(0, 4);
  return prefix.includes('yes') ? 'yes' : prefix.includes('no') ? 'no' : 'other';
}

export interface MmeItem {
  readonly subtask: string;
  /** The image both of its questions are about. */
  readonly image: string;
  readonly correct: boolean;
}

export interface MmeSubtaskScore {
  readonly questions: number;
  readonly images: number;
  readonly acc: number;
  readonly accPlus: number;
  /** 100 acc + 100 acc+. */
  readonly score: number;
}

export interface MmeScores {
  readonly subtasks: Readonly<Record<string, MmeSubtaskScore>>;
  readonly perception: number;
  readonly cognition: number;
}

/** acc+ counts an image right when every question about it answered is right (two in the full set). */
export function mmeScores(items: readonly MmeItem[]): MmeScores {
  const bySubtask = new Map<string, MmeItem[]>();
  for (const item of items) bySubtask.set(item.subtask, [...(bySubtask.get(item.subtask) ?? []), item]);
  const subtasks: Record<string, MmeSubtaskScore> = {};
  for (const [subtask, list] of bySubtask) {
    const images = new Map<string, boolean>();
    for (const { image, correct } of list) images.set(image, (images.get(image) ?? true) && correct);
    const acc = list.filter((i) => i.correct).length / list.length;
    const accPlus = [...images.values()].filter(Boolean).length / images.size;
    subtasks[subtask] = { questions: list.length, images: images.size, acc, accPlus, score: 100 * acc + 100 * accPlus };
  }
  const total = (names: readonly string[]) => names.reduce((sum, name) => sum + (subtasks[name]?.score ?? 0), 0);
  return { subtasks, perception: total(MME_PERCEPTION), cognition: total(MME_COGNITION) };
}
