#!/usr/bin/env node
// The `visdrop` command line. The commands are imported only after the malloc relaunch check, so
// a relaunching parent loads no native module (onnxruntime, sharp) it would not use.
import { relaunchWithMallocSettings } from './relaunch.js';

const relaunchedExitCode = await relaunchWithMallocSettings();
if (relaunchedExitCode !== null) process.exit(relaunchedExitCode);
await import('./program.js');
