// The CLI's relaunch with a fixed glibc mmap threshold and huge pages: the child sees the settings
// (the user's other tunables kept), the parent hands back the child's exit code, and a process
// that already has the threshold runs as it is.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { tunablesWithMallocSettings } from './relaunch.js';

const RELAUNCH = join(import.meta.dirname, 'relaunch.ts');

describe('relaunchWithMallocSettings', { skip: process.platform !== 'linux' && 'glibc settings apply on Linux only' }, () => {
  let dir: string;
  let script: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'visdrop-relaunch-'));
    script = join(dir, 'probe.mts'); // an ES module: it awaits at top level
    // Prints the setting it runs with and exits with the code given as its argument, or with 7 on SIGTERM when given `wait`.
    writeFileSync(
      script,
      `import { relaunchWithMallocSettings } from ${JSON.stringify(RELAUNCH)};\n` +
        `const code = await relaunchWithMallocSettings();\n` +
        `if (code !== null) process.exit(code);\n` +
        // The handler goes in before the line that tells the test to send the signal.
        `if (process.argv[2] === 'wait') process.on('SIGTERM', () => { process.stdout.write('got SIGTERM\\n'); process.exit(7); });\n` +
        `process.stdout.write(String(process.env.MALLOC_MMAP_THRESHOLD_) + ' ' + process.pid + ' ' + String(process.env.GLIBC_TUNABLES) + '\\n');\n` +
        `if (process.argv[2] === 'wait') setInterval(() => {}, 1000);\n` +
        `else process.exit(Number(process.argv[2]));\n`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = (env: NodeJS.ProcessEnv, exitCode: number) =>
    spawnSync(process.execPath, ['--import', 'tsx', script, String(exitCode)], { encoding: 'utf8', env });

  it('runs the command again in a child with the settings, and exits with its code', () => {
    const { MALLOC_MMAP_THRESHOLD_: _, GLIBC_TUNABLES: __, ...env } = process.env;
    const result = run(env, 3);
    assert.equal(result.status, 3);
    const [setting, pid, tunables] = result.stdout.trim().split(' ');
    assert.equal(setting, '33554432');
    assert.equal(tunables, 'glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1');
    assert.notEqual(Number(pid), result.pid, 'the output came from a child');
    const theirs = run({ ...env, GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0' }, 0);
    assert.equal(theirs.stdout.trim().split(' ')[2], 'glibc.malloc.hugetlb=1:glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0', "the user's tunables are kept");
  });

  it("leaves a user's own huge-page and arena tunables as they are", () => {
    assert.equal(tunablesWithMallocSettings('glibc.malloc.hugetlb=0'), 'glibc.malloc.arena_max=1:glibc.malloc.hugetlb=0');
    assert.equal(tunablesWithMallocSettings('glibc.malloc.hugetlb=0:glibc.malloc.arena_max=4'), 'glibc.malloc.hugetlb=0:glibc.malloc.arena_max=4');
    assert.equal(tunablesWithMallocSettings(''), 'glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1');
  });

  it('passes SIGTERM sent to the parent on to the child, and exits with its code', async () => {
    const { MALLOC_MMAP_THRESHOLD_: _, ...env } = process.env;
    const parent = spawn(process.execPath, ['--import', 'tsx', script, 'wait'], { env });
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('33554432')) parent.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => parent.once('exit', resolve));
    assert.match(out, /got SIGTERM/);
    assert.equal(code, 7);
  });

  it('does not relaunch when the setting is already there', () => {
    const result = run({ ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' }, 0);
    assert.equal(result.status, 0);
    const [setting, pid] = result.stdout.trim().split(' ');
    assert.equal(setting, '131072');
    assert.equal(Number(pid), result.pid);
  });
});
