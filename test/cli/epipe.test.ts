/** A reader that goes away before the answer is written (`| head`, a closed pager) ends the run quietly. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { listFixtures, REPO } from '../helpers/fixtures.js';

const f = listFixtures((n) => n === 'overlay2-20.10')[0]!;

test('stdout closed by the reader: exit 0, no stack trace', async () => {
  const p = spawn(process.execPath, [path.join(REPO, 'bin/dockscope.js'), '--root', f.archive, 'images', '-a', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // closing our end first makes the child's first write fail with EPIPE
  p.stdout.destroy();
  let stderr = '';
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});
