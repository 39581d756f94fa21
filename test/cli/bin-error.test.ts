/**
 * bin/dockscope.js's last resort: an exception that escapes main() (a bug, not bad evidence, which
 * run() reports itself) ends with exit 70 and one line on stderr, its text passed through the same
 * terminal guard as every other line, because a message can quote evidence.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BIN } from '../helpers/cli.js';

test('an exception escaping main() exits 70 with its text escaped, not raw on the terminal', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-bin-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  // main() first installs its EPIPE handler on stdout: make that throw, as a bug in main would.
  const preload = path.join(dir, 'break-main.mjs');
  fs.writeFileSync(preload, "process.stdout.on = () => { throw new Error('planted \\x1b]0;owned\\x07 name'); };\n");
  const r = spawnSync(process.execPath, ['--import', `file://${preload}`, ...BIN, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 70, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^dockscope: internal error: Error: planted \\x1b\]0;owned\\x07 name/);
  assert.doesNotMatch(r.stderr, /[\x1b\x07]/, 'no raw control character reaches stderr');
});
