/**
 * Start-up: src/cli/main.ts names every command without importing its module (so that --version and --help load
 * only yargs) and imports the one module yargs matches. The copies of names and descriptions must stay exactly
 * what the modules say, and --help must still list every command.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import { describe, test } from 'node:test';
import { COMMANDS } from '../../src/cli/main.js';
import { BIN, cli } from '../helpers/cli.js';

/** Every module specifier a compiled or bundled file imports, statically or with import(). */
function specifiers(file: URL | string): Set<string> {
  const text = fs.readFileSync(file, 'utf8');
  return new Set([...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)(["'])([^"'\n]+)\1/g)].map((m) => m[2]!));
}

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

  test('bin loads main as one bundle: packages inlined, dockscope\'s own modules left as shared imports', () => {
    const bin = fs.readFileSync(BIN[0]!, 'utf8');
    const target = /from '(\.\.\/dist\/src\/cli\/[^']+)'/.exec(bin)?.[1];
    assert.equal(target, '../dist/src/cli/main.bundle.js', 'bin imports the bundle');
    const bundled = specifiers(new URL('../../src/cli/main.bundle.js', import.meta.url));
    const compiled = specifiers(new URL('../../src/cli/main.js', import.meta.url));
    assert.ok(compiled.has('yargs'), 'the compiled main imports yargs: the check below means something');
    const isOwn = (s: string) => s.startsWith('./') || s.startsWith('../');
    // A package left as an import would be loaded file by file again; an own module inlined would be a
    // second instance of it (a --limit set by main would not reach the commands).
    assert.deepEqual([...bundled].filter((s) => !isOwn(s) && !isBuiltin(s)), [], 'no package imported from node_modules');
    assert.deepEqual([...bundled].filter(isOwn).sort(), [...compiled].filter(isOwn).sort(), 'own modules imported, not inlined');
  });
});

