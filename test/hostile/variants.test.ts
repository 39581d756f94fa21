/**
 * Hostile variants of a real-engine store: each one an attack from issue 7 planted into the
 * archive of the Docker 20.10 fixture. Every answer must still come, in bounded time, without an
 * exception, without a raw control character in human output, without reading a canary file
 * outside the evidence, and with the damage reported as findings.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { buildModel } from '../../src/model/graph.js';
import { resolveImage } from '../../src/model/resolve.js';
import { openEvidence } from '../../src/source/open.js';
import { everything } from '../helpers/everything.js';
import { canExtract, listFixtures, oracle } from '../helpers/fixtures.js';
import { tmpDir } from '../helpers/tarbuild.js';
import { variant, type Edit, type Header } from '../helpers/variant.js';

const f = listFixtures((n) => n === 'overlay2-20.10')[0]!;
const D = 'var/lib/docker';
const CANARY = 'CANARY-7f3a-outside-the-evidence';
const canaryDir = tmpDir();
// Named and filled with the marker: listing the dir or reading the file would both show it.
fs.writeFileSync(path.join(canaryDir, CANARY), CANARY);
fs.mkdirSync(path.join(canaryDir, 'diff'));
fs.writeFileSync(path.join(canaryDir, 'diff', CANARY), CANARY);

interface Ids {
  baseCache: string;
  baseLink: string;
  appTopChain: string;
  appTopCache: string;
  appCache2: string;
  appConfig: string;
  ctr: string;
}
let ids: Ids;

before(async () => {
  const ev = await openEvidence(f.archive);
  const model = buildModel(ev.root);
  const app = resolveImage(model, 'fx/app:1');
  const base = app.layers[0]!.layer!;
  ids = {
    baseCache: base.record!.cacheID!,
    baseLink: base.dir!.link!,
    appTopChain: app.layers[app.layers.length - 1]!.chainID,
    appTopCache: app.layers[app.layers.length - 1]!.layer!.record!.cacheID!,
    appCache2: app.layers[2]!.layer!.record!.cacheID!,
    appConfig: app.id.slice(7),
    ctr: oracle<{ containers: Record<string, string> }>(f, 'names.json').containers.changes!,
  };
});

const sym = (name: string, linkname: string) => ({ header: { name, type: 'symlink', linkname } as Header });
const file = (name: string, body: string | Buffer) => ({ header: { name, type: 'file', mode: 0o644, size: Buffer.byteLength(body) } as Header, body: Buffer.from(body) });

type Case = { name: string; edit: (n: string, b: Buffer, h: Header) => Edit; extra?: () => { header: Header; body?: Buffer }[]; expect?: RegExp };

const cases = (): Case[] => [
  {
    name: 'l/ links that leave the root (relative and absolute)',
    edit: (n) => (n === `${D}/overlay2/l/${ids.baseLink}` ? { header: { linkname: `../../../../../../../../..${canaryDir}/diff` } } : undefined),
    extra: () => [sym(`${D}/overlay2/l/AAAAAAAAAAAAAAAAAAAAAAAAAA`, canaryDir), sym(`${D}/overlay2/l/BBBBBBBBBBBBBBBBBBBBBBBBBB`, '../../../../../../../../../../etc')],
    expect: /short-link|escape|ESCAPE|climbs out|absolute/i,
  },
  {
    name: "a layer's diff dir that is a symlink to a host dir",
    edit: (n) => (n.startsWith(`${D}/overlay2/${ids.appCache2}/diff`) ? null : undefined),
    extra: () => [sym(`${D}/overlay2/${ids.appCache2}/diff`, `${canaryDir}/diff`)],
  },
  {
    name: 'traversal, absolute paths, NUL and newlines in cache-id, mount-id, init-id, link, lower, parent, diff',
    edit: (n) => {
      const ldb = `${D}/image/overlay2/layerdb`;
      if (n === `${ldb}/sha256/${ids.appTopChain.slice(7)}/cache-id`) return { body: Buffer.from(`../../../../../../..${canaryDir}`) };
      if (n === `${ldb}/mounts/${ids.ctr}/mount-id`) return { body: Buffer.from('../../../../../../../etc') };
      if (n === `${ldb}/mounts/${ids.ctr}/init-id`) return { body: Buffer.from(`${canaryDir}\0x\nmore`) };
      if (n === `${D}/overlay2/${ids.appCache2}/link`) return { body: Buffer.from('../../../etc\n') };
      if (n === `${D}/overlay2/${ids.appCache2}/lower`) return { body: Buffer.from(`l/../../../..${canaryDir}:l/${'A'.repeat(26)}`) };
      if (n.endsWith(`/sha256/${ids.appTopChain.slice(7)}/diff`)) return { body: Buffer.from(`sha256:../../${canaryDir}`) };
      return undefined;
    },
    expect: /bad-mount|not 64 hex|not a digest|odd-cache-id|bad-lower|bad-link/,
  },
  {
    name: 'parent cycles in layerdb',
    edit: (n) => (n === `${D}/image/overlay2/layerdb/sha256/${ids.appTopChain.slice(7)}/parent` ? { body: Buffer.from(ids.appTopChain) } : undefined),
    expect: /cycle/,
  },
  {
    name: '10 MB of text in an id file and a config',
    edit: (n) =>
      n === `${D}/image/overlay2/layerdb/sha256/${ids.appTopChain.slice(7)}/cache-id`
        ? { body: Buffer.alloc(10 << 20, 0x61) }
        : n.endsWith(`/containers/${ids.ctr}/hostconfig.json`)
          ? { body: Buffer.from(`{"Binds":["${'x'.repeat(10 << 20)}"]}`) }
          : undefined,
  },
  {
    name: 'malformed, truncated, deeply nested and wrongly typed JSON',
    edit: (n, b) => {
      if (n === `${D}/image/overlay2/repositories.json`) return { body: Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)) };
      if (n.endsWith(`/containers/${ids.ctr}/config.v2.json`))
        return { body: Buffer.from(JSON.stringify({ ID: ids.ctr, State: 'x', Name: 5, Args: {}, Config: [], MountPoints: 'x', Created: 7, Driver: ['overlay2'], Path: null, Image: { a: 1 }, LogPath: 9 })) };
      if (n.endsWith('/hostconfig.json') && !n.includes(ids.ctr)) return { body: b.subarray(0, Math.floor(b.length / 2)) };
      if (n === `${D}/image/overlay2/imagedb/content/sha256/${ids.appConfig}`) return { body: Buffer.from('{"rootfs":{"type":"layers","diff_ids":5},"history":"x","config":[1]}') };
      return undefined;
    },
    expect: /invalid JSON|bad-json|not an array|bad-shape/,
  },
  {
    name: 'an image whose rootfs lists 10,000 layers and a chain deeper than Docker allows',
    edit: () => undefined,
    extra: () => {
      const diff = 'sha256:' + 'ab'.repeat(32);
      const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: Array(10_000).fill(diff) }, history: [] });
      const hex = require_sha256(cfg);
      return [file(`${D}/image/overlay2/imagedb/content/sha256/${hex}`, cfg)];
    },
  },
  {
    name: 'terminal injection in tags, names, labels, env and file names',
    edit: (n, b) => {
      if (n === `${D}/image/overlay2/repositories.json`) {
        const doc = JSON.parse(b.toString());
        doc.Repositories['evil\u001b]0;pwned\u0007'] = { 'evil\u001b]0;pwned\u0007:latest': `sha256:${ids.appConfig}` };
        doc.Repositories['fx/app']['fx/app:\u202egnp.exe'] = `sha256:${ids.appConfig}`;
        return { body: Buffer.from(JSON.stringify(doc)) };
      }
      if (n.endsWith(`/containers/${ids.ctr}/config.v2.json`)) {
        const doc = JSON.parse(b.toString());
        doc.Name = '/\u001b[2J\u001b[Hwiped\r\u009b31m';
        doc.Config.Labels = { '\u001b[31mkey': 'v\u2066al\u2069' };
        doc.Config.Env = ['A=\u001b]52;c;ZXZpbA==\u0007'];
        return { body: Buffer.from(JSON.stringify(doc)) };
      }
      return undefined;
    },
    extra: () => [file(`${D}/overlay2/${ids.baseCache}/diff/etc/\u001b[31mred`, 'x')],
  },
  {
    name: 'symlink chains and loops on the way to metadata and layer dirs',
    edit: (n) => (n === `${D}/overlay2/l/${ids.baseLink}` ? { header: { linkname: 'LOOP1' } } : undefined),
    extra: () => [
      sym(`${D}/overlay2/l/LOOP1`, 'LOOP2'),
      sym(`${D}/overlay2/l/LOOP2`, 'LOOP1'),
      // a chain longer than the 40 hops a kernel follows, ending outside
      ...Array.from({ length: 60 }, (_, i) => sym(`${D}/overlay2/l/CHAIN${i}`, i === 59 ? canaryDir : `CHAIN${i + 1}`)),
      sym(`${D}/image/overlay2/layerdb/mounts/${'f'.repeat(64)}`, `../mounts/${'f'.repeat(64)}`),
    ],
  },
  {
    name: 'hard links in the acquisition that point outside it',
    edit: () => undefined,
    extra: () => [
      { header: { name: `${D}/overlay2/${ids.baseCache}/diff/etc/hl-abs`, type: 'link', linkname: `${canaryDir}/${CANARY}` } as Header },
      { header: { name: `${D}/overlay2/${ids.baseCache}/diff/etc/hl-up`, type: 'link', linkname: `../../../../../../../../..${canaryDir}/${CANARY}` } as Header },
      { header: { name: `${D}/image/overlay2/repositories.json.hl`, type: 'link', linkname: `/etc/passwd` } as Header },
    ],
  },
  {
    name: 'a lower chain thousands deep',
    edit: (n) => (n === `${D}/overlay2/${ids.appCache2}/lower` ? { body: Buffer.from(Array.from({ length: 5000 }, (_, i) => `l/${String(i).padStart(26, 'Q')}`).join(':')) } : undefined),
    expect: /lower/,
  },
  {
    name: 'duplicate keys and a 70 MB config',
    edit: (n, b) => {
      if (n.endsWith(`/containers/${ids.ctr}/config.v2.json`)) {
        const text = b.toString();
        // Go keeps the last of duplicate keys, and so does JSON.parse: the name shown is the last one
        return { body: Buffer.from(text.replace(/^\{/, '{"Name":"/first-of-two",')) };
      }
      if (n === `${D}/image/overlay2/imagedb/content/sha256/${ids.appConfig}`) return { body: Buffer.alloc(70 << 20, 0x20) };
      return undefined;
    },
    expect: /larger than the \d+-byte bound|ETOOBIG|too big/i,
  },
  {
    name: 'a truncated acquisition',
    edit: () => undefined,
  },
];

import { createHash } from 'node:crypto';
function require_sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

describe('hostile variants of a real-engine store', () => {
  for (const c of cases()) {
    test(c.name, { timeout: 120_000 }, async () => {
      let archive = await variant(f.archive, c.edit, c.extra?.() ?? []);
      if (c.name === 'a truncated acquisition') {
        const buf = fs.readFileSync(archive);
        archive = path.join(tmpDir(), 'cut.tar');
        fs.writeFileSync(archive, buf.subarray(0, Math.floor(buf.length * 0.6)));
      }
      await check(c, archive);
      // A directory is where a link out of the evidence would really reach the host.
      if (canExtract()) {
        const dir = tmpDir();
        try {
          execFileSync('tar', ['-C', dir, '--xattrs', '--xattrs-include=*', '--numeric-owner', '-xf', archive], { stdio: 'ignore' });
        } catch {
          // GNU tar fails on the truncated variant after extracting what it could: use that.
        }
        await check(c, path.join(dir, 'var/lib/docker'));
      }
    });
  }
});

async function check(c: Case, spec: string) {
      const { human, json, model } = await everything(spec);
      assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(human), 'a raw control or bidi character reached human output');
      assert.ok(!human.includes(CANARY) && !json.some((j) => j.includes(CANARY)), 'read a file outside the evidence');
      for (const j of json) JSON.parse(j);
      if (c.expect) assert.match(model.findings.list.map((x) => `${x.code} ${x.message}`).join('\n') + human, c.expect);
      // The intact rest is still there: the untouched base image keeps answering.
      assert.ok(model.images.size > 0 && model.containers.size > 0);
}
