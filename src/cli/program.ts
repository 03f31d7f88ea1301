// The `visdrop` commands: generate, demo, make-tiny, bench, flops, show, cache, train, synth, convert, eval, serve.
import { Command } from 'commander';
import { registerBenchCommand } from './bench-command.js';
import { registerCacheCommand } from './cache-command.js';
import { registerConvertCommand } from './convert-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerEvalCommand } from './eval-command.js';
import { registerFlopsCommand } from './flops-command.js';
import { registerGenerateCommand } from './generate-command.js';
import { registerMakeTinyCommand } from './make-tiny-command.js';
import { reportError } from './run-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerShowCommand } from './show-command.js';
import { registerSynthCommand } from './synth-command.js';
import { registerTrainCommand } from './train-command.js';

const program = new Command('visdrop')
  .description('Run LLaVA-style vision-language models on Node.js, fast, by dropping redundant visual tokens')
  .showHelpAfterError(false);
registerGenerateCommand(program);
registerDemoCommand(program);
registerMakeTinyCommand(program);
registerBenchCommand(program);
registerFlopsCommand(program);
registerShowCommand(program);
registerCacheCommand(program);
registerTrainCommand(program);
registerSynthCommand(program);
registerConvertCommand(program);
registerEvalCommand(program);
registerServeCommand(program);

program.parseAsync(process.argv).catch(reportError);
