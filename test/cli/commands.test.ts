/**
 * The commands as an analyst runs them, on a real-engine fixture: exit codes, reference
 * resolution, chain resolution from every kind of layer identifier, the mount stack and the
 * escaping of hostile strings.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cli, cliJson } from '../helpers/cli.js';
import { listFixtures, oracle } from '../helpers/fixtures.js';

const f = listFixtures((n) => n === 'overlay2-20.10')[0]!;
const R = ['--root', f.archive];
const names = oracle<{ containers: Record<string, string>; images: Record<string, string> }>(f, 'names.json');

describe('reference resolution', () => {
  test('name:tag, bare name (latest), fully qualified name, ID, sha256: prefix and short prefix agree', () => {
    const id = names.images['fx/base:1']!;
    for (const ref of ['fx/base:1', 'fx/base', 'docker.io/fx/base:latest', id, id.slice(7), id.slice(0, 19), id.slice(7, 19)])
      assert.equal(cliJson([...R, 'image', ref]).Id, id, ref);
    assert.equal(cliJson([...R, 'image', 'localhost/fx/other:v1']).Id, id);
    const pulled = Object.entries(names.images).find(([k]) => k.includes('fx/app@sha256:'))!;
    assert.equal(cliJson([...R, 'image', pulled[0]]).Id, pulled[1]);
  });

  test('containers resolve by name with or without /, full ID and prefix', () => {
    const id = names.containers.changes!;
    for (const ref of ['changes', '/changes', id, id.slice(0, 6)]) assert.equal(cliJson([...R, 'container', ref]).Id, id, ref);
  });

  test('nothing found exits 1 and says what was searched; a usage error exits 2', () => {
    const r = cli([...R, 'image', 'no/such:image']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no image "no\/such:image": searched \d+ image IDs and \d+ references/);
    assert.equal(cli([...R, 'container', 'nosuch']).code, 1);
    assert.equal(cli([...R, 'frobnicate']).code, 2);
    assert.equal(cli(['--root', '/nonexistent/evidence', 'info']).code, 1);
  });

  test('an ambiguous prefix lists the candidates', () => {
    const ids = Object.values(names.containers);
    // The shortest prefix that at least two containers share.
    let prefix = '';
    for (let n = 1; n < 64 && !prefix; n++) {
      const seen = new Map<string, number>();
      for (const id of ids) seen.set(id.slice(0, n), (seen.get(id.slice(0, n)) ?? 0) + 1);
      prefix = [...seen].find(([, c]) => c > 1)?.[0] ?? '';
      if (!prefix) break;
    }
    if (!prefix) return; // no two fixture IDs share a first character: nothing to test
    const r = cli([...R, 'container', prefix]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ambiguous/);
    assert.ok(ids.filter((id) => id.startsWith(prefix)).every((id) => r.stderr.includes(id)));
  });
});

describe('chain', () => {
  test('every identifier of a layer resolves to the same chain, recomputed and consistent', () => {
    const img = cliJson([...R, 'image', 'fx/app:1']);
    const layer = img.Dockscope.Layers[3];
    const blob = layer.Distribution[0]?.Digest;
    const ids = [layer.ChainID, layer.ChainID.slice(7, 19), layer.CacheID, layer.Link, `l/${layer.Link}`, ...(blob ? [blob] : [])];
    // A diffID may occur in several chains; this one is unique in the fixture.
    for (const q of ids) {
      const out = cliJson<any[]>([...R, 'chain', q]);
      assert.equal(out.length, 1, q);
      assert.equal(out[0].chainID, layer.ChainID, q);
      assert.equal(out[0].steps.length, 4);
      assert.ok(out[0].steps.every((s: any) => s.recomputedMatches && s.linkOk && s.driverDirPresent), q);
      assert.ok(out[0].usedByImages.some((u: any) => u.id === img.Id && u.position === 3));
    }
    assert.equal(cliJson<any[]>([...R, 'chain', layer.DiffID])[0].chainID, layer.ChainID);
  });

  test("a container's mount-id resolves to that container's RW layer", () => {
    const c = cliJson([...R, 'container', 'changes']);
    const out = cliJson<any[]>([...R, 'chain', c.Dockscope.MountID]);
    assert.equal(out[0].container, c.Id);
  });
});

describe('container --mounts', () => {
  test('the stack equals the lowerdirs, upperdir and workdir the engine reported', () => {
    for (const name of ['changes', 'running', 'vols', 'orphanimg']) {
      const want = oracle<any>(f, `container-inspect/${name}.json`).GraphDriver.Data;
      const m = cliJson([...R, 'container', name, '--mounts']).Dockscope.Mounts;
      assert.deepEqual(m.problems, [], name);
      const stack = m.stack as any[];
      assert.equal(stack[0].role, 'upper');
      assert.equal(stack[0].diff, want.UpperDir, name);
      assert.equal(stack[1].role, 'init');
      assert.equal(stack.slice(1).map((s) => s.diff).join(':'), want.LowerDir, name);
      assert.equal(m.work, want.WorkDir);
      assert.ok(m.dockerMount.includes(`lowerdir=${want.LowerDir},upperdir=${want.UpperDir},workdir=${want.WorkDir}`), name);
      assert.ok(m.readOnlyMount.startsWith(`mount -t overlay overlay -o ro,lowerdir=${want.UpperDir}:${want.LowerDir} `), name);
    }
  });

  test('a container whose image was force-removed still shows its full stack', () => {
    const c = cliJson([...R, 'container', 'orphanimg']);
    assert.equal(c.Dockscope.ImagePresent, false);
    assert.ok(c.Dockscope.ParentChainID);
  });
});

describe('output safety', () => {
  test('escape sequences from evidence are shown escaped, and kept exact in --json', () => {
    const human = cli([...R, 'container', 'evil']);
    assert.equal(human.code, 0);
    assert.ok(!human.stdout.includes('\x1b'), 'no raw ESC reaches the terminal');
    assert.ok(!human.stdout.includes('\r'), 'no raw CR reaches the terminal');
    assert.match(human.stdout, /evil=\\x1b\[31mred\\x1b\[0m\\nsecond line/);
    const json = cliJson([...R, 'container', 'evil']);
    assert.equal(json.Config.Labels.evil, '\x1b[31mred\x1b[0m\nsecond line');
    for (const cmd of [['containers', '-a'], ['images', '-a'], ['info']]) assert.ok(!cli([...R, ...cmd]).stdout.includes('\x1b'), cmd.join(' '));
  });
});

describe('every command answers on the fixture', () => {
  for (const args of [['info'], ['images'], ['images', '-a', '--digests', '--no-trunc'], ['history', 'fx/app:2'], ['history', 'fx/app:2', '--no-trunc'], ['image', 'fx/app:2'], ['containers'], ['ps', '-a'], ['container', 'risky'], ['container', 'vols', '--mounts']]) {
    test(args.join(' '), () => {
      const r = cli([...R, ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.length > 0);
      assert.equal(r.stderr, '');
      const j = cli([...R, ...args, '--json']);
      assert.equal(j.code, 0);
      JSON.parse(j.stdout);
    });
  }
});
