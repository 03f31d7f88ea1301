// The llama.cpp peer's timed run, in a process of its own (its peak RSS is llama.cpp's alone):
// node-llama-cpp, installed by the bench into a scratch folder (src/peers/llama-cpp.ts), loads a
// GGUF on the CPU with its prebuilt binaries (never builds), then either
//   bench:  times two loads, then `runs` rounds after a warm-up of: a prefill of `promptTokens`
//           seeded token ids (one batch, the next token's logits included, as visdrop's prefill),
//           then `decodeTokens` greedy decode steps; prints one JSON line of medians;
//   greedy: evaluates the given ids, takes `decodeTokens` greedy tokens and the first step's
//           probabilities; prints them as one JSON line (the GGUF's proof of carrying visdrop's weights).
// Arguments: JSON in argv[2]: { module, gguf, mode, threads, decodeTokens, promptTokens?, vocab?, runs? (bench), tokens? (greedy) }.
import { pathToFileURL } from 'node:url';

const args = JSON.parse(process.argv[2]);
const { getLlama } = await import(pathToFileURL(args.module).href);
const llama = await getLlama({ build: 'never', gpu: false, progressLogs: false, logLevel: 'error', maxThreads: args.threads });

async function load() {
  const start = performance.now();
  const model = await llama.loadModel({ modelPath: args.gguf, gpuLayers: 0 });
  return { model, ms: performance.now() - start };
}

/** visdrop's median (src/bench/stats.ts): the mean of the middle two for an even count. */
function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Seeded ids in [3, vocab): never <unk>, <s> or </s>, so nothing ends the decode early. */
function promptIds(count, vocab) {
  let state = 0x9e3779b9;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return 3 + (state % (vocab - 3));
  });
}

/** Prefill `tokens`, then `steps` greedy steps; times the prefill (to the first token) and each step. */
async function timedGeneration(sequence, tokens, steps) {
  await sequence.clearHistory();
  const generated = [];
  const stepMs = [];
  let start = performance.now();
  let prefillMs = 0;
  for await (const token of sequence.evaluate(tokens, { temperature: 0 })) {
    const now = performance.now();
    if (generated.length === 0) prefillMs = now - start;
    else stepMs.push(now - start);
    generated.push(token);
    if (generated.length > steps) break;
    start = performance.now();
  }
  return { prefillMs, stepMs, generated };
}

if (args.mode === 'bench') {
  const first = await load();
  await first.model.dispose();
  const { model, ms: cachedLoadMs } = await load();
  const context = await model.createContext({
    contextSize: args.promptTokens + args.decodeTokens + 16,
    batchSize: args.promptTokens,
    threads: args.threads,
    flashAttention: false,
  });
  const sequence = context.getSequence();
  const tokens = promptIds(args.promptTokens, args.vocab);
  const prefill = [];
  const decode = [];
  for (let round = 0; round <= args.runs; round++) {
    const run = await timedGeneration(sequence, tokens, args.decodeTokens);
    if (round === 0) continue; // warm-up
    prefill.push(run.prefillMs);
    decode.push(run.stepMs.reduce((a, b) => a + b, 0) / run.stepMs.length);
  }
  const result = {
    version: args.version,
    llamaCppRelease: llama.llamaCppRelease?.release ?? null,
    buildType: llama.buildType,
    threads: args.threads,
    firstLoadMs: first.ms,
    cachedLoadMs,
    prefillMs: median(prefill),
    decodeMsPerToken: median(decode),
    prefillSamplesMs: prefill,
    decodeSamplesMs: decode,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  await context.dispose();
  await model.dispose();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (args.mode === 'greedy') {
  const { model } = await load();
  const context = await model.createContext({ contextSize: args.tokens.length + args.decodeTokens + 16, batchSize: args.tokens.length, threads: args.threads });
  const sequence = context.getSequence();
  const generated = [];
  let firstProbabilities = null;
  for await (const out of sequence.evaluateWithMetadata(args.tokens, { probabilities: true }, { temperature: 0 })) {
    if (firstProbabilities === null) firstProbabilities = [...out.probabilities.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
    generated.push(out.token);
    if (generated.length >= args.decodeTokens) break;
  }
  await context.dispose();
  await model.dispose();
  process.stdout.write(`${JSON.stringify({ tokens: generated, firstProbabilities })}\n`);
} else {
  throw new Error(`unknown mode ${args.mode}`);
}
