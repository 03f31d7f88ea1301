// ChartQA's relaxed accuracy (lmms-eval tasks/chartqa, from Qwen-VL): both strings parsed as Python
// floats, a trailing "%" meaning /100; when both parse and the target is non-zero, right when within
// 5% of the target, else a case-insensitive exact match.

export const RELAXED_TOLERANCE = 0.05;

// What Python's float() accepts: surrounding whitespace, a sign, digits with single underscores
// between them, a fraction, an exponent, or inf/infinity/nan in any case.
const DIGITS = String.raw`\d(?:_?\d)*`;
const PY_FLOAT = new RegExp(String.raw`^[+-]?(?:(?:(?:${DIGITS})?\.${DIGITS}|${DIGITS}\.?)(?:[eE][+-]?${DIGITS})?|inf(?:inity)?|nan)$`, 'i');

/** Python's float(text), or null where it raises ValueError. */
export function pythonFloat(text: string): number | null {
  const trimmed = text.trim();
  if (!PY_FLOAT.test(trimmed)) return null;
  const lower = trimmed.toLowerCase().replaceAll('_', '');
  if (lower.endsWith('nan')) return NaN;
  if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity;
  return Number(lower);
}

function toFloat(text: string): number | null {
  if (text.endsWith('%')) {
    const value = pythonFloat(text.replace(/%+$/, ''));
    return value === null ? null : value / 100;
  }
  return pythonFloat(text);
}

export function relaxedCorrect(prediction: string, target: string): boolean {
  const pred = toFloat(prediction);
  const truth = toFloat(target);
  // Python's `if target_float` is false for 0.0 only (NaN is truthy, and then no comparison holds).
  if (pred !== null && truth !== null && truth !== 0) return Math.abs(pred - truth) / Math.abs(truth) <= RELAXED_TOLERANCE;
  return prediction.toLowerCase() === target.toLowerCase();
}
