// `visdrop serve`: an OpenAI-compatible chat-completions server over one model loaded at start
// (with a progress bar), on loopback unless --host says otherwise. The strategy flags set the
// default strategy; a request's `visdrop` object takes the same flags as snake_case keys, read
// from this very command's flag definitions, so each is parsed as on the command line.
import { basename, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadModel, OptionError, resolveModelDir, type LlavaModel } from '../index.js';
import { WEIGHT_FORMATS, type WeightFormat } from '../quant/format.js';
import { type ReduceFlags } from '../reduce/registry.js';
import { createServer, type ServerOptions, type StrategyOptionKey, type VisdropServer } from '../serve/index.js';
import { parseWholeNumber } from './options.js';
import { loadProgressBar } from './progress.js';
import { addReduceFlags } from './reduce-flags.js';
import { q4BlockSizeOption, weightFormatOptions } from './weight-flags.js';
import { runCommand } from './run-command.js';
import { serveReporting } from './serve-report.js';

export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  maxConcurrency: 1,
  maxQueue: 16,
  maxImageBytes: 20 * 2 ** 20,
  maxImagePixels: 50_000_000,
  maxTokens: 512,
  shutdownSeconds: 10,
} as const;

interface ServeFlags extends ReduceFlags {
  /** Absent: the bundled visdrop-tiny. */
  model?: string;
  modelName?: string;
  host: string;
  port: number;
  weights: WeightFormat;
  q4BlockSize?: number;
  threads?: number;
  cache: boolean;
  cacheDir?: string;
  maxConcurrency: number;
  maxQueue: number;
  apiKey?: string;
  maxImageBytes: number;
  maxImagePixels: number;
  maxTokens: number;
  allowLocalFiles?: string;
  shutdownTimeout: number;
}

/** The strategy flags (all but --reduce) as request keys: `--pdrop-layers` is `pdrop_layers`, parsed by the flag's parser. */
export function strategyOptionKeys(): StrategyOptionKey[] {
  return addReduceFlags(new Command())
    .options.filter((option) => option.long !== '--reduce')
    .map((option) => ({
      key: option.long!.replace(/^--/, '').replace(/-/g, '_'),
      attribute: option.attributeName(),
      takesValue: option.required || option.optional,
      ...(option.parseArg ? { parse: (text: string) => option.parseArg!(text, undefined) } : {}),
    }));
}

/** Server options from the flags' values (the tests build servers through this too). */
export function serverOptions(model: LlavaModel, settings: Partial<Omit<ServeFlags, 'model'>> & { modelId?: string }): ServerOptions {
  const defaultStrategy: ReduceFlags = Object.fromEntries(
    ['reduce', ...strategyOptionKeys().map((k) => k.attribute)].flatMap((key) => {
      const value = (settings as Record<string, unknown>)[key];
      return value === undefined ? [] : [[key, value]];
    }),
  );
  const maxImageBytes = settings.maxImageBytes ?? SERVE_DEFAULTS.maxImageBytes;
  return {
    modelId: settings.modelId ?? settings.modelName ?? basename(resolve(model.dir)),
    maxTokens: settings.maxTokens ?? SERVE_DEFAULTS.maxTokens,
    maxConcurrency: settings.maxConcurrency ?? SERVE_DEFAULTS.maxConcurrency,
    maxQueue: settings.maxQueue ?? SERVE_DEFAULTS.maxQueue,
    maxImageBytes,
    maxImagePixels: settings.maxImagePixels ?? SERVE_DEFAULTS.maxImagePixels,
    // A base64 image takes 4/3 of its bytes; the rest of a request is text.
    maxBodyBytes: Math.ceil((maxImageBytes * 4) / 3) + 2 ** 20,
    allowLocalFiles: settings.allowLocalFiles ? resolve(settings.allowLocalFiles) : null,
    strategyKeys: strategyOptionKeys(),
    defaultStrategy,
    reporting: serveReporting,
    ...(settings.apiKey !== undefined ? { apiKey: settings.apiKey } : {}),
  };
}

export function registerServeCommand(program: Command): void {
  const command = program
    .command('serve')
    .description("serve a model over OpenAI's chat-completions API (and a page to try it at /), token reduction chosen per request")
    .option('--model <dir>', 'llava-hf checkpoint directory (default: the bundled visdrop-tiny)')
    .option('--model-name <id>', 'the model id clients send (default: the directory name)')
    .option('--host <address>', 'address to listen on (default loopback only)', SERVE_DEFAULTS.host)
    .option('--port <n>', 'port (0: any free one)', parseWholeNumber('--port', 0), SERVE_DEFAULTS.port)
    .addOption(new Option('--weights <format>', 'Linear weights: f32, q8 or q4').choices(WEIGHT_FORMATS).default('f32'))
    .addOption(q4BlockSizeOption())
    .option('--threads <n>', 'threads per operator', parseWholeNumber('--threads', 1))
    .option('--no-cache', 'build q8/q4 graphs without the converted-model cache')
    .option('--cache-dir <dir>', 'converted-model cache directory')
    .option('--max-concurrency <n>', 'requests generating at once', parseWholeNumber('--max-concurrency', 1), SERVE_DEFAULTS.maxConcurrency)
    .option('--max-queue <n>', 'requests waiting for a slot; beyond them 429', parseWholeNumber('--max-queue', 0), SERVE_DEFAULTS.maxQueue)
    .option('--api-key <key>', 'require Authorization: Bearer <key> on /v1/* (default $VISDROP_API_KEY, else none)', process.env.VISDROP_API_KEY)
    .option('--max-image-bytes <n>', 'largest image, in bytes', parseWholeNumber('--max-image-bytes', 1), SERVE_DEFAULTS.maxImageBytes)
    .option('--max-image-pixels <n>', 'largest image, in pixels, read from its header before decoding', parseWholeNumber('--max-image-pixels', 1), SERVE_DEFAULTS.maxImagePixels)
    .option('--max-tokens <n>', 'ceiling and default of a request max_tokens', parseWholeNumber('--max-tokens', 1), SERVE_DEFAULTS.maxTokens)
    .option('--allow-local-files <dir>', 'accept file:// image URLs under this directory')
    .option('--shutdown-timeout <s>', 'on SIGTERM, seconds admitted requests may take to finish before they are cancelled', parseWholeNumber('--shutdown-timeout', 0), SERVE_DEFAULTS.shutdownSeconds);
  addReduceFlags(command).action(runCommand(serveAction));
}

async function serveAction(flags: ServeFlags): Promise<void> {
  const progress = loadProgressBar(true);
  const model = await loadModel(resolveModelDir(flags.model), {
    ...(flags.threads ? { threads: flags.threads } : {}),
    ...weightFormatOptions(flags),
    ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
    cache: flags.cache ? (flags.cacheDir ? { dir: flags.cacheDir } : {}) : false,
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
  }).finally(progress.stop);
  let server: VisdropServer;
  try {
    server = createServer(model, serverOptions(model, flags));
  } catch (error) {
    await model.release();
    throw error;
  }
  const address = await server.listen(flags.host, flags.port).catch(async (error: NodeJS.ErrnoException) => {
    await model.release();
    throw new OptionError({ subject: '--host / --port', expected: 'an address and port free to listen on', found: `${flags.host}:${flags.port} (${error.code ?? error.message})` });
  });
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(flags.host);
  process.stderr.write(
    `visdrop serve: ${server.options.modelId} loaded in ${(model.loadMs / 1000).toFixed(1)} s, listening on http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/` +
      `${loopback ? '' : ` (not loopback${flags.apiKey ? '' : ', and no --api-key'})`}\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`visdrop serve: ${signal}: refusing new requests, finishing admitted ones (at most ${flags.shutdownTimeout} s)\n`);
    server
      .shutdown(flags.shutdownTimeout * 1000)
      .then(() => model.release())
      .then(() => process.stderr.write('visdrop serve: stopped\n'))
      .catch((error: unknown) => {
        process.stderr.write(`visdrop serve: shutdown failed: ${(error as Error).message}\n`);
        process.exitCode = 1;
      });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
