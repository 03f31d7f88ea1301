// The llama.cpp peer: node-llama-cpp (pinned in tools/peers/llama-cpp/package.json, not a dependency
// of visdrop) installed on demand into a scratch folder with npm, its prebuilt linux-x64 CPU binaries
// an npm package too: nothing is downloaded from elsewhere, nothing is built (install scripts off, and
// the run script asks for `build: 'never'`). The timed run is a child process
// (tools/peers/llama-cpp-run.mjs), so its peak RSS is llama.cpp's alone.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLlavaConfig } from '../config/llava.js';
import { OptionError } from '../errors.js';
import { writeDecoderGguf, type GgufWeights } from './llava-to-gguf.js';
import type { PeerResult } from './peer-result.js';

/** The package's root: src/peers/ and dist/peers/ both sit two levels under it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PEER_SOURCE = join(PACKAGE_ROOT, 'tools', 'peers', 'llama-cpp');
const RUN_SCRIPT = join(PACKAGE_ROOT, 'tools', 'peers', 'llama-cpp-run.mjs');
const LOCK_FILES = ['package.json', 'package-lock.json'] as const;
const INSTALLED_FROM = 'installed-from.package-lock.json';

/** Where peers are installed: $VISDROP_PEERS_DIR, or .visdrop-cache/peers in the package (git-ignored). */
export function peersDir(): string {
  return process.env.VISDROP_PEERS_DIR ?? join(PACKAGE_ROOT, '.visdrop-cache', 'peers');
}

/** The pinned node-llama-cpp version. */
export function llamaCppPeerVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PEER_SOURCE, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  return pkg.dependencies['node-llama-cpp']!;
}

/**
 * Installs the pinned node-llama-cpp into `<peersDir>/llama-cpp` unless that folder already holds
 * exactly the pinned lock file; returns the path of its ESM entry point.
 */
export function ensureLlamaCpp(log: (message: string) => void = () => {}): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new OptionError({ subject: '--peers llama.cpp', expected: 'linux-x64 (the prebuilt binaries pinned in tools/peers/llama-cpp)', found: `${process.platform}-${process.arch}` });
  }
  if (!existsSync(RUN_SCRIPT)) {
    throw new OptionError({ subject: '--peers llama.cpp', expected: `the peer's run script at ${RUN_SCRIPT} (a source checkout of visdrop)`, found: 'no such file' });
  }
  const dir = join(peersDir(), 'llama-cpp');
  const entry = join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  // The pinned lock file, copied beside the install once it succeeded (npm may rewrite the one it installed from).
  const pinned = readFileSync(join(PEER_SOURCE, 'package-lock.json'), 'utf8');
  const marker = join(dir, INSTALLED_FROM);
  if (existsSync(entry) && existsSync(marker) && readFileSync(marker, 'utf8') === pinned) return entry;
  log(`peers: installing node-llama-cpp ${llamaCppPeerVersion()} into ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of LOCK_FILES) copyFileSync(join(PEER_SOURCE, file), join(dir, file));
  // --omit=optional: of node-llama-cpp's binary packages only the linux-x64 one, named in the lock as
  // a direct dependency, is installed (not the CUDA and Vulkan ones). `install`, not `ci`: the lock
  // leaves out the other platforms' optional packages, which `ci` counts as out of sync.
  const npm = spawnSync('npm', ['install', '--ignore-scripts', '--omit=optional', '--no-audit', '--no-fund'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
  });
  if (npm.status !== 0 || !existsSync(entry)) {
    throw new OptionError({ subject: '--peers llama.cpp', expected: `npm install of node-llama-cpp in ${dir} to succeed`, found: `exit ${npm.status ?? npm.signal}: ${(npm.stderr ?? '').trim().split('\n').slice(-1)[0] ?? ''}` });
  }
  writeFileSync(marker, pinned);
  return entry;
}

/** Runs the peer's script with `args`; returns its one JSON line. */
export function runLlamaCppScript<T>(args: Record<string, unknown>): T {
  const child = spawnSync(process.execPath, [RUN_SCRIPT, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (child.status !== 0) {
    throw new OptionError({ subject: '--peers llama.cpp', expected: 'the llama.cpp run to succeed', found: `exit ${child.status ?? child.signal}: ${child.stderr.trim().split('\n').slice(-3).join(' | ')}` });
  }
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as T;
}

export interface LlamaCppBenchOptions {
  /** The llava-hf checkpoint whose decoder is converted. */
  readonly model: string;
  readonly weights: GgufWeights;
  /** The visdrop format it is compared with. */
  readonly visdropWeights: string;
  readonly promptTokens: number;
  readonly decodeTokens: number;
  readonly runs: number;
  /** Threads for llama.cpp (default: the machine's cores, as onnxruntime's default). */
  readonly threads?: number;
  readonly log?: (message: string) => void;
}

interface LlamaCppBenchOutput {
  readonly llamaCppRelease: string | null;
  readonly firstLoadMs: number;
  readonly cachedLoadMs: number;
  readonly prefillMs: number;
  readonly decodeMsPerToken: number;
  readonly peakRssBytes: number;
}

/** Converts the checkpoint's decoder to a GGUF in a temporary folder, times llama.cpp on it, removes it. */
export function benchLlamaCpp(options: LlamaCppBenchOptions): PeerResult {
  const log = options.log ?? (() => {});
  const module = ensureLlamaCpp(log);
  const threads = options.threads ?? availableParallelism();
  const dir = mkdtempSync(join(peersDir(), 'gguf-'));
  try {
    log(`peers: writing ${options.weights} GGUF of ${options.model}`);
    const gguf = writeDecoderGguf(options.model, join(dir, `decoder-${options.weights}.gguf`), options.weights);
    const vocab = loadLlavaConfig(options.model).text.vocabSize;
    log(`peers: timing llama.cpp ${options.weights}`);
    const out = runLlamaCppScript<LlamaCppBenchOutput>({
      module,
      gguf: gguf.path,
      mode: 'bench',
      threads,
      promptTokens: options.promptTokens,
      vocab,
      decodeTokens: options.decodeTokens,
      runs: options.runs,
    });
    const version = llamaCppPeerVersion();
    return {
      engine: `llama.cpp${out.llamaCppRelease ? ` (release tag ${out.llamaCppRelease})` : ''} via node-llama-cpp ${version}`,
      weights: options.weights,
      visdropWeights: options.visdropWeights,
      threads,
      convertMs: gguf.ms,
      fileBytes: gguf.bytes,
      firstLoadMs: out.firstLoadMs,
      cachedLoadMs: out.cachedLoadMs,
      loadNote:
        `first load = writing the ${(gguf.bytes / 1e9).toFixed(2)} GB GGUF from the checkpoint (visdrop's writer, ${(gguf.ms / 1000).toFixed(1)} s) ` +
        `+ llama.cpp's load of it (${(out.firstLoadMs / 1000).toFixed(1)} s); cached load = loading it again (mmap)`,
      prefillMs: out.prefillMs,
      decodeMsPerToken: out.decodeMsPerToken,
      peakRssBytes: out.peakRssBytes,
      promptTokens: options.promptTokens,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
