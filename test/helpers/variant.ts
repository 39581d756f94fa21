import fs from 'node:fs';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import { tmpFile } from './tarbuild.js';

export type Header = tarStream.Header & { pax?: Record<string, string> };

/** What a transform returns for one entry: keep it (undefined), drop it (null), or replace header/body. */
export type Edit = undefined | null | { header?: Partial<Header>; body?: Buffer };

/**
 * A variant of a real-engine archive: every entry passes through `edit` (by its name and body)
 * and `extra` entries are appended. Works without root, keeps devices, links and PAX records.
 */
export async function variant(archive: string, edit: (name: string, body: Buffer, h: Header) => Edit, extra: { header: Header; body?: Buffer }[] = []): Promise<string> {
  const extract = tarStream.extract();
  const pack = tarStream.pack();
  const out = tmpFile('variant.tar', Buffer.alloc(0));
  const writing = pipeline(pack, fs.createWriteStream(out));
  const reading = pipeline(fs.createReadStream(archive), zlib.createGunzip(), extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const h = entry.header as Header;
    const e = edit(h.name.replace(/^\.\//, ''), body, h);
    if (e === null) continue;
    const header = { ...h, ...(e?.header ?? {}) } as Header;
    const b = e?.body ?? body;
    if (header.type === 'file' || header.type === undefined) header.size = b.length;
    await new Promise<void>((res, rej) => pack.entry(header, header.type === 'file' || header.type === undefined ? b : Buffer.alloc(0), (err) => (err ? rej(err) : res())));
  }
  for (const x of extra) await new Promise<void>((res, rej) => pack.entry(x.header, x.body ?? Buffer.alloc(0), (err) => (err ? rej(err) : res())));
  pack.finalize();
  await reading;
  await writing;
  return out;
}
