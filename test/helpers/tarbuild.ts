import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import tarStream from 'tar-stream';

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  body?: string | Buffer;
  linkname?: string;
  mode?: number;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
  mtime?: Date;
}

/** Builds a tar (or tar.gz) in memory with tar-stream: test archives with exactly the entries a case needs. */
export async function buildTar(entries: TarEntry[], gzip = false): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644), linkname: e.linkname, devmajor: e.devmajor, devminor: e.devminor, pax: e.pax, mtime: e.mtime ?? new Date(1_700_000_000_000) } as tarStream.Header;
    await new Promise<void>((resolve, reject) => pack.entry(header, e.body ?? '', (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  const tar = Buffer.concat(chunks);
  return gzip ? zlib.gzipSync(tar) : tar;
}

export function tmpFile(name: string, data: Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-t-'));
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return p;
}

export function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dockscope-d-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
