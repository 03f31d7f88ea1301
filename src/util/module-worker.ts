// A worker thread running one of our modules, the same from dist/ and from the TypeScript sources.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type Transferable } from 'node:worker_threads';

export interface ModuleWorkerOptions {
  readonly workerData?: unknown;
  readonly transferList?: readonly Transferable[];
  /** Statements run in the worker (with `workerData` in scope) when the module fails to load, before the error is rethrown. */
  readonly onLoadError?: string;
}

/**
 * A worker running module `name` (no extension) beside the module at `besideUrl` (its
 * `import.meta.url`): from dist/, name.js; run from the TypeScript sources (the tests, under tsx),
 * name.ts with tsx registered in the worker first, since tsx's --import hooks do not reach worker
 * threads (privatenumber/tsx#354).
 */
export function moduleWorker(besideUrl: string, name: string, options: ModuleWorkerOptions = {}): Worker {
  const extension = extname(fileURLToPath(besideUrl));
  const entry = new URL(`./${name}${extension}`, besideUrl).href;
  const load =
    extension === '.ts'
      ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`
      : `import(${JSON.stringify(entry)})`;
  const bootstrap = `const { workerData } = require('node:worker_threads');
${load}.catch((error) => {
  ${options.onLoadError ?? ''}
  throw error;
});`;
  return new Worker(bootstrap, {
    eval: true,
    workerData: options.workerData,
    ...(options.transferList ? { transferList: [...options.transferList] } : {}),
  });
}
