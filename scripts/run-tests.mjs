// Runs every *.test.ts under src/ with node's test runner (TypeScript through tsx).
// Node 20's --test takes no globs, so the files are listed here.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith('.test.ts') && !entry.name.endsWith('.case.test.ts') ? [path] : [];
  });
}

const files = testFiles('src').sort();
const filter = process.argv[2];
const selected = filter ? files.filter((f) => f.includes(filter)) : files;
// Loads during the tests cache their converted graphs here rather than in the user's cache.
const cacheDir = mkdtempSync(join(tmpdir(), 'visdrop-test-cache-'));
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...selected],
  { stdio: 'inherit', env: { ...process.env, VISDROP_CACHE_DIR: cacheDir } },
);
rmSync(cacheDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
