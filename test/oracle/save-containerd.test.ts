/**
 * save of containerd-store images: the archive holds the content store's own manifest, config
 * and compressed layer blobs, each named by its sha256; index.json points at the image ID (the
 * manifest digest), manifest.json at the same config and layers; each layer decompresses to the
 * diffID inspect reports. A blob whose bytes were altered is refused and nothing is written.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { test } from 'node:test';
import tarStream from 'tar-stream';
import { cli, cliJson } from '../helpers/cli.js';
import { listFixtures } from '../helpers/fixtures.js';
import { tmpDir } from '../helpers/tarbuild.js';
import { variant, type Header } from '../helpers/variant.js';

const fixtures = listFixtures((n) => n.startsWith('containerd-'));

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

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

for (const f of fixtures) {
  test(`${f.name}: save writes the content store's blobs, verified, as an OCI layout docker load reads`, async () => {
    const dir = tmpDir();
    for (const ref of ['fx/app:2', 'fx/base:1', 'fx/committed:1', '127.0.0.1:5603/fx/single:1']) {
      const img = cliJson(['--root', f.archive, 'image', ref]);
      const out = path.join(dir, `${ref.replace(/\W/g, '_')}.tar`);
      const r = cli(['--root', f.archive, 'save', ref, '-o', out]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /verified by digest/);
      const files = await readTar(out);
      for (const [name, body] of files) if (name.startsWith('blobs/sha256/')) assert.equal(sha(body), name.slice(13), `${ref} ${name}`);
      const index = JSON.parse(files.get('index.json')!.toString());
      assert.equal(index.manifests[0].digest, img.Id, ref);
      assert.deepEqual(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['io.containerd.image.name']).sort(), img.Dockscope.Containerd.Records.map((r: { Name: string }) => r.Name).filter((n: string) => !n.includes('@')).sort());
      // The target blob is the manifest exactly as the content store has it.
      const manifest = JSON.parse(files.get(`blobs/sha256/${img.Id.slice(7)}`)!.toString());
      assert.equal(index.manifests[0].size, files.get(`blobs/sha256/${img.Id.slice(7)}`)!.length);
      const [m] = JSON.parse(files.get('manifest.json')!.toString());
      assert.equal(m.Config, `blobs/sha256/${manifest.config.digest.slice(7)}`);
      assert.deepEqual(m.Layers, manifest.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`));
      assert.deepEqual(m.RepoTags, img.RepoTags);
      const config = JSON.parse(files.get(m.Config)!.toString());
      assert.deepEqual(config.rootfs.diff_ids, img.RootFS.Layers);
      // Layer blobs are the compressed ones; each decompresses to its diffID.
      m.Layers.forEach((p: string, i: number) => {
        const body = files.get(p)!;
        const raw = body[0] === 0x1f && body[1] === 0x8b ? zlib.gunzipSync(body) : body;
        assert.equal(`sha256:${sha(raw)}`, img.RootFS.Layers[i], `${ref} layer ${i}`);
      });
      assert.equal(files.get('oci-layout')!.toString(), '{"imageLayoutVersion": "1.0.0"}');
    }
  });

  test(`${f.name}: a content blob whose bytes changed is refused and nothing is written`, async () => {
    const img = cliJson(['--root', f.archive, 'image', 'fx/app:1']);
    const victim = img.Dockscope.Layers[1].Blob.Digest as string;
    const archive = await variant(f.archive, (n: string, body: Buffer, h: Header) =>
      n === `var/lib/containerd/io.containerd.content.v1.content/blobs/sha256/${victim.slice(7)}` && h.type === 'file' ? { body: Buffer.from(body.map((b, i) => (i === body.length - 1 ? b ^ 1 : b))) } : undefined,
    );
    const out = path.join(tmpDir(), 'x.tar');
    const r = cli(['--root', archive, 'save', 'fx/app:1', '-o', out]);
    assert.equal(r.code, 4, r.stderr);
    assert.ok(r.stderr.includes(victim) && r.stderr.includes('bytes hash to'), r.stderr);
    assert.equal(fs.existsSync(out), false);
  });
}
