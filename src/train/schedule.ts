// Hugging Face's get_cosine_schedule_with_warmup (num_cycles 0.5), as LLaVA trains: the learning
// rate climbs linearly from 0 over the warm-up steps, then falls along a half cosine to 0 at the
// last step. The rate used by optimizer step k (0-based) is lr x factor(k): the scheduler steps
// after each update, so the first update of a run with warm-up uses rate 0, as in the Trainer.

/** The Trainer's warm-up steps for a ratio: ceil(ratio x total). */
export function warmupSteps(totalSteps: number, warmupRatio: number): number {
  return Math.ceil(totalSteps * warmupRatio);
}

export function cosineWithWarmup(step: number, warmup: number, totalSteps: number): number {
  if (step < warmup) return step / Math.max(1, warmup);
  const progress = (step - warmup) / Math.max(1, totalSteps - warmup);
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
