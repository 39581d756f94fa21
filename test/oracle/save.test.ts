/**
 * save: every blob is named by its own sha256, layer blobs are the diffIDs, the config is the
 * image ID, and manifest.json / index.json describe exactly that; a tampered layer is refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import tarStream from 'tar-stream';
import { cli, cliJson } from '../helpers/cli.js';
import { listFixtures } from '../helpers/fixtures.js';
import { tmpDir } from '../helpers/tarbuild.js';
import { variant, type Header } from '../helpers/variant.js';

const fixtures = listFixtures((n) => n.startsWith('overlay2-'));

async function readTar(file: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const ex = tarStream.extract();
  fs.createReadStream(file).pipe(ex);
  for await (const e of ex) {
    const c: Buffer[] = [];
    for await (const b of e) c.push(b as Buffer);
    out.set(e.header.name, Buffer.concat(c));
  }
  return out;
}

for (const f of fixtures) {
  test(`${f.name}: save of every tagged image is loadable by content address`, async () => {
    const dir = tmpDir();
    for (const ref of ['fx/app:2', 'fx/base:1', 'fx/committed:1']) {
      const img = cliJson(['--root', f.archive, 'image', ref]);
      const out = path.join(dir, `${ref.replace(/\W/g, '_')}.tar`);
      const r = cli(['--root', f.archive, 'save', ref, '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      const files = await readTar(out);
      for (const [name, body] of files)
        if (name.startsWith('blobs/sha256/')) assert.equal(createHash('sha256').update(body).digest('hex'), name.slice(13), `${ref} ${name}`);
      const [m] = JSON.parse(files.get('manifest.json')!.toString());
      assert.equal(m.Config, `blobs/sha256/${img.Id.slice(7)}`);
      assert.deepEqual(m.Layers, img.RootFS.Layers.map((d: string) => `blobs/sha256/${d.slice(7)}`));
      assert.deepEqual(m.RepoTags, img.RepoTags);
      const index = JSON.parse(files.get('index.json')!.toString());
      const manifest = JSON.parse(files.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)!.toString());
      assert.equal(manifest.config.digest, img.Id);
      assert.deepEqual(manifest.layers.map((l: { digest: string }) => l.digest), img.RootFS.Layers);
      assert.equal(files.get('oci-layout')!.toString(), '{"imageLayoutVersion": "1.0.0"}');
    }
  });
}

test('a layer that no longer reassembles exactly is refused and nothing is written', async () => {
  const f = fixtures[0]!;
  const img = cliJson(['--root', f.archive, 'image', 'fx/app:1']);
  const victim = img.Dockscope.Layers[2];
  const archive = await variant(f.archive, (n: string, body: Buffer, h: Header) =>
    // Flip a byte in place: appended bytes would not matter, only the recorded size is copied.
    n.startsWith(`var/lib/docker/overlay2/${victim.CacheID}/diff/`) && h.type === 'file' && body.length > 0 ? { body: Buffer.from(body.map((b, i) => (i === 0 ? b ^ 1 : b))) } : undefined,
  );
  const out = path.join(tmpDir(), 'x.tar');
  const r = cli(['--root', archive, 'save', 'fx/app:1', '-o', out]);
  assert.equal(r.code, 4);
  assert.ok(r.stderr.includes(victim.DiffID), r.stderr);
  assert.equal(fs.existsSync(out), false);
  assert.equal(cli(['--root', archive, 'save', 'fx/app:1', '-o', out, '--allow-mismatch']).code, 4);
  assert.ok(fs.existsSync(out));
});

test('save refuses to write into the evidence', () => {
  const f = fixtures[0]!;
  const r = cli(['--root', f.dir, 'save', 'fx/base:1', '-o', path.join(f.dir, 'oops.tar')]);
  assert.notEqual(r.code, 0);
  assert.equal(fs.existsSync(path.join(f.dir, 'oops.tar')), false);
});
