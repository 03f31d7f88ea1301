// `visdrop bench --model DIR --peers llama.cpp,torch`: the peer engines a bench can run beside visdrop on
// the same checkpoint, and which of their formats stands beside which of visdrop's.
import { availableParallelism } from 'node:os';
import { parseNameList } from '../util/name-list.js';
import { benchLlamaCpp } from './llama-cpp.js';
import type { GgufWeights } from './llava-to-gguf.js';
import type { PeerResult } from './peer-result.js';
import { benchTorch } from './torch.js';

export const PEER_NAMES = ['llama.cpp', 'torch'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** llama.cpp's format of the same width as each visdrop format. */
const LLAMA_CPP_WEIGHTS: Record<string, GgufWeights> = { f32: 'f32', q8: 'q8_0', q4: 'q4_0' };

export function parsePeers(text: string): PeerName[] {
  return parseNameList('--peers', text, PEER_NAMES);
}

export interface PeerBenchOptions {
  readonly model: string;
  /** visdrop's formats benched; each peer runs its counterpart of each. */
  readonly weights: readonly string[];
  readonly promptTokens: number;
  readonly decodeTokens: number;
  readonly runs: number;
  readonly log?: (message: string) => void;
}

/** Runs every peer on every format, one after another. */
export function benchPeers(peers: readonly PeerName[], options: PeerBenchOptions): PeerResult[] {
  return peers.flatMap((peer) => {
    switch (peer) {
      case 'llama.cpp':
        return options.weights.map((w) =>
          benchLlamaCpp({
            model: options.model,
            weights: LLAMA_CPP_WEIGHTS[w]!,
            visdropWeights: w,
            promptTokens: options.promptTokens,
            decodeTokens: options.decodeTokens,
            runs: options.runs,
            ...(options.log ? { log: options.log } : {}),
          }),
        );
      case 'torch':
        options.log?.('peers: timing torch f32');
        // Once, in f32 (eager PyTorch on the CPU has no int8 or 4-bit path of the same kind).
        return [benchTorch({ model: options.model, promptTokens: options.promptTokens, decodeTokens: options.decodeTokens, runs: options.runs, threads: availableParallelism() })];
    }
  });
}
