/**
 * timeline on the containerd store, against containerd's and the engine's own answers in the
 * containerd-26 oracles: image records (LastTagTime = newest record update), every content
 * record's commit time, init snapshots at the exact nanoseconds `ctr snapshots info` shows,
 * leases at `ctr leases ls` times; and on a variant with an ingest dir, the partial download's
 * start and last write.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { choosePathMap } from '../../src/analysis/paths.js';
import { buildTimeline, timeNs, type TimelineEvent } from '../../src/analysis/timeline.js';
import { loadModel } from '../../src/model/graph.js';
import { resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { listFixtures, oracle } from '../helpers/fixtures.js';
import { variant, type Header } from '../helpers/variant.js';

const fixtures = listFixtures((n) => n.startsWith('containerd-'));

async function timelineOf(archive: string) {
  const ev = await openEvidence(archive);
  const model = await loadModel(ev);
  const events = await buildTimeline(model, choosePathMap(ev, model), { logs: false, fileTimes: false });
  return { model, events };
}

const at = (events: TimelineEvent[], kind: string, ns: bigint) => events.filter((e) => e.kind === kind && e.ns === ns);

for (const f of fixtures) {
  test(`${f.name}: image records, content, init snapshots and leases at containerd's own times`, async () => {
    const { model, events } = await timelineOf(f.archive);
    const names = oracle<{ containers: Record<string, string> }>(f, 'names.json');
    // Every image record created; fx/app:1's newest record update is inspect's LastTagTime.
    const records = fs.readFileSync(path.join(f.dir, 'oracles/ctr/images-ls.txt'), 'utf8').split('\n').slice(1).filter((l) => l.trim()).map((l) => l.split(/\s+/)[0]!);
    for (const name of records) assert.ok(events.some((e) => e.kind === 'image.record' && e.field === 'createdat' && e.attrs?.name === name), name);
    const app = resolveImage(model, 'fx/app:1');
    const inspect = oracle<{ Metadata: { LastTagTime: string } }>(f, `image-inspect/${app.id.slice(7)}.json`);
    const tagged = timeNs(inspect.Metadata.LastTagTime)!;
    assert.ok(events.some((e) => e.kind === 'image.record' && e.imageId === app.id && e.ns === tagged), `no record event at ${inspect.Metadata.LastTagTime}`);
    // One creation event per content record (ctr content ls).
    const blobs = fs.readFileSync(path.join(f.dir, 'oracles/ctr/content-ls.txt'), 'utf8').split('\n').slice(1).filter((l) => l.trim()).length;
    assert.equal(events.filter((e) => e.kind === 'content.blob' && e.field === 'createdat').length, blobs);
    // Init snapshots: ctr snapshots info times, to the nanosecond.
    let checked = 0;
    for (const [name, cid] of Object.entries(names.containers)) {
      const file = path.join(f.dir, `oracles/ctr/snapshot-info/${name}-init.json`);
      if (!fs.existsSync(file)) continue;
      const info = JSON.parse(fs.readFileSync(file, 'utf8')) as { Name: string; Created: string };
      const hits = at(events, 'snapshot', timeNs(info.Created)!).filter((e) => e.containerId === cid && e.field === 'createdat');
      assert.equal(hits.length, 1, `${name}-init at ${info.Created}`);
      assert.match(hits[0]!.message, /^init snapshot \d+ of /);
      checked++;
    }
    assert.ok(checked >= 10);
    // Leases: one per container, at the second ctr shows (ns kept: not all whole seconds).
    const leases = fs.readFileSync(path.join(f.dir, 'oracles/ctr/leases-ls.txt'), 'utf8').split('\n').slice(1).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
    const le = events.filter((e) => e.kind === 'lease');
    assert.equal(le.length, leases.length);
    for (const [id, created] of leases) {
      const e = le.find((x) => x.attrs?.lease === id)!;
      assert.ok(e, id);
      assert.equal(e.ns / 1_000_000_000n, timeNs(created!)! / 1_000_000_000n, id);
    }
    assert.ok(le.some((e) => e.ns % 1_000_000_000n !== 0n));
    // With file times, each blob file's mtime too, at the time the archive recorded.
    const ev = await openEvidence(f.archive);
    const m2 = await loadModel(ev);
    const withFiles = await buildTimeline(m2, choosePathMap(ev, m2), { logs: false });
    const store = m2.containerdStores[0]!;
    const mt = withFiles.filter((e) => e.kind === 'content.blob' && e.field === 'mtime');
    assert.equal(mt.length, blobs);
    for (const e of mt.slice(0, 5)) assert.equal(e.ns, store.content.stat(String(e.attrs!.digest))!.mtimeNs);
  });

  test(`${f.name}: a partial download's start and last write, from ingest/`, async () => {
    const ref = 'manifest-sha256:' + '1'.repeat(64);
    const dir = `var/lib/containerd/io.containerd.content.v1.content/ingest/${createHash('sha256').update(ref).digest('hex')}`;
    const file = (name: string, body: string) => ({ header: { name, type: 'file', mode: 0o644, size: Buffer.byteLength(body) } as Header, body: Buffer.from(body) });
    const archive = await variant(f.archive, () => undefined, [
      { header: { name: `${dir}/`, type: 'directory', mode: 0o755 } as Header },
      file(`${dir}/ref`, ref),
      file(`${dir}/data`, 'abc'),
      file(`${dir}/startedat`, '2026-11-23T01:00:00.000000007Z'),
      file(`${dir}/updatedat`, '2026-11-23T03:00:00.5+02:00'),
    ]);
    const { events } = await timelineOf(archive);
    const s = events.filter((e) => e.kind === 'download.started');
    const u = events.filter((e) => e.kind === 'download.updated');
    assert.equal(s.length, 1);
    assert.equal(u.length, 1);
    assert.equal(s[0]!.ns, timeNs('2026-11-23T01:00:00.000000007Z'));
    assert.equal(u[0]!.ns, timeNs('2026-11-23T01:00:00.5Z'));
    assert.match(s[0]!.message, /manifest-sha256:1{64}/);
    assert.match(u[0]!.message, /\(3 bytes\)/);
    assert.equal(s[0]!.attrs?.expected, 'sha256:' + '1'.repeat(64));
    // Sorted: the start comes before everything at a later instant.
    assert.ok(events.indexOf(s[0]!) < events.indexOf(u[0]!));
  });
}
