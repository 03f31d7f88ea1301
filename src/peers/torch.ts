// The PyTorch peer: Debian's python3-torch running the LLaMA decoder of the same checkpoint in eager
// float32 (tools/peers/torch_peer.py, on tools/python/parity_llava.py's Llama), in a process of its own.
import { spawnSync } from 'node:child_process';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLlavaConfig, type TextArch } from '../config/llava.js';
import { OptionError } from '../errors.js';
import type { PeerResult } from './peer-result.js';

const SCRIPT = fileURLToPath(new URL('../../tools/peers/torch_peer.py', import.meta.url));
/** Debian's interpreter, the one with python3-torch (a pyenv `python3` on PATH may lack it). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
/** The f32 decoder (and the memory map it is read through) must fit in this share of free memory. */
const FREE_MEMORY_SHARE = 0.8;

/** Bytes of the decoder's weights in float32. */
export function decoderF32Bytes(t: TextArch): number {
  const attention = t.hiddenSize * t.headDim * (2 * t.numHeads + 2 * t.numKvHeads);
  const mlp = 3 * t.hiddenSize * t.intermediateSize;
  const embeddings = (t.tieWordEmbeddings ? 1 : 2) * t.vocabSize * t.hiddenSize;
  return 4 * (t.numLayers * (attention + mlp + 2 * t.hiddenSize) + embeddings + t.hiddenSize);
}

export interface TorchBenchOptions {
  readonly model: string;
  readonly promptTokens: number;
  readonly decodeTokens: number;
  readonly runs: number;
  readonly threads: number;
}

export function benchTorch(options: TorchBenchOptions): PeerResult {
  const bytes = decoderF32Bytes(loadLlavaConfig(options.model).text);
  if (bytes > FREE_MEMORY_SHARE * freemem()) {
    throw new OptionError({
      subject: '--peers torch',
      expected: `the f32 decoder to fit in ${((FREE_MEMORY_SHARE * freemem()) / 1e9).toFixed(1)} GB of free memory`,
      found: `${(bytes / 1e9).toFixed(1)} GB for ${options.model}`,
    });
  }
  const args = { model: options.model, threads: options.threads, promptTokens: options.promptTokens, decodeTokens: options.decodeTokens, runs: options.runs };
  const child = spawnSync(SYSTEM_PYTHON, [SCRIPT, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (child.error || child.status !== 0) {
    const why = child.error ? child.error.message : `exit ${child.status ?? child.signal}: ${child.stderr.trim().split('\n').slice(-1)[0] ?? ''}`;
    throw new OptionError({ subject: '--peers torch', expected: `${SYSTEM_PYTHON} ${join('tools', 'peers', 'torch_peer.py')} to run (Debian's python3-torch)`, found: why });
  }
  const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as {
    version: string;
    firstLoadMs: number;
    cachedLoadMs: number;
    prefillMs: number;
    decodeMsPerToken: number;
    peakRssBytes: number;
  };
  return {
    engine: `torch ${out.version} (eager, Debian's python3-torch)`,
    weights: 'f32',
    visdropWeights: 'f32',
    threads: options.threads,
    convertMs: 0,
    fileBytes: bytes,
    firstLoadMs: out.firstLoadMs,
    cachedLoadMs: out.cachedLoadMs,
    loadNote: 'first load = reading the checkpoint\'s decoder into f32 tensors; cached load = the same again, its files in the page cache (nothing is converted ahead)',
    prefillMs: out.prefillMs,
    decodeMsPerToken: out.decodeMsPerToken,
    peakRssBytes: out.peakRssBytes,
    promptTokens: options.promptTokens,
  };
}
