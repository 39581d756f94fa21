/**
 * Start-up: src/cli/main.ts names every command without importing its module (so that --version and --help load
 * only yargs) and imports the one module yargs matches. The copies of names and descriptions must stay exactly
 * what the modules say, and --help must still list every command.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS } from '../../src/cli/main.js';
import { cli } from '../helpers/cli.js';

describe('lazily loaded commands', () => {
  test('each entry of COMMANDS names and describes its command exactly as its module does', async () => {
    const seen = new Set<string>();
    for (const c of COMMANDS) {
      const m = await c.load();
      assert.deepEqual(c.command, m.command);
      assert.equal(c.describe, m.describe, String(c.command));
      assert.equal(typeof m.builder, 'function', String(c.command));
      assert.equal(typeof m.handler, 'function', String(c.command));
      seen.add(String(m.command));
    }
    assert.equal(seen.size, COMMANDS.length, 'no module listed twice');
  });

  test('--help lists every command and alias; --version prints the version', () => {
    const help = cli(['--help']);
    assert.equal(help.code, 0);
    for (const c of COMMANDS) {
      const names = typeof c.command === 'string' ? [c.command] : [...c.command];
      assert.ok(help.stdout.includes(`dockscope ${names[0]}`), names[0]);
      for (const alias of names.slice(1)) assert.ok(help.stdout.includes(alias.split(' ')[0]!), alias);
    }
    const v = cli(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test("a command's own options reach --help and strict parsing (its builder ran)", () => {
    const h = cli(['images', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /--digests/);
    assert.equal(cli(['--root', '/nonexistent', 'images', '--no-such-option']).code, 2);
  });
});
