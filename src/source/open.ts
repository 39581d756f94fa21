import fs from 'node:fs';
import path from 'node:path';
import { DirSource } from './dir.js';
import { splitPath } from './paths.js';
import type { TarSource } from './tar.js';
import { EvidenceError, type Source } from './types.js';

/** An opened piece of evidence: the whole tree, and the Docker data root found inside it. */
export interface Evidence {
  /** The whole evidence (a directory or an archive). */
  top: Source;
  /** The data root view; every parser reads through this one. */
  root: Source;
  /** Where the data root sits inside `top` ('' when it is the top itself). */
  rootPath: string;
  /** How the analyst named it. */
  spec: string;
  /** Problems met while opening (truncated archive, skipped entries). */
  problems: string[];
}

/** Entries whose presence marks a Docker data root (FORMATS.md §0). */
const ROOT_MARKERS = ['image', 'graph', 'overlay2', 'aufs', 'overlay', 'vfs', 'volumes', 'containerd', 'rootfs'];

function looksLikeDataRoot(src: Source, dir: string): boolean {
  const names = safeReaddir(src, dir);
  if (!names) return false;
  const set = new Set(names);
  return set.has('containers') && ROOT_MARKERS.some((m) => set.has(m)) || (set.has('image') && set.has('overlay2'));
}

function safeReaddir(src: Source, dir: string): string[] | undefined {
  try {
    return src.readdir(dir);
  } catch {
    return undefined;
  }
}

/**
 * Finds the data root inside an evidence tree: the tree itself, `var/lib/docker/`, `docker/`, or
 * the shallowest folder (depth ≤ 5) holding `containers/` beside an image or driver folder.
 */
export function findDataRoot(src: Source): string | undefined {
  for (const c of ['', 'var/lib/docker', 'docker']) {
    if (looksLikeDataRoot(src, c)) return c;
    // --userns-remap: the configured root holds only `<uid>.<gid>/`, the real one.
    const remapped = (safeReaddir(src, c) ?? []).filter((n) => /^\d{1,10}\.\d{1,10}$/.test(n)).map((n) => (c ? `${c}/${n}` : n)).filter((p) => looksLikeDataRoot(src, p));
    if (remapped.length) return remapped[0];
  }
  // Rootless: ~/.local/share/docker (root's own, or a user's under home/).
  for (const home of ['root', ...(safeReaddir(src, 'home') ?? []).slice(0, 1000).map((u) => `home/${u}`)]) {
    const p = `${home}/.local/share/docker`;
    if (looksLikeDataRoot(src, p)) return p;
  }
  let level = [''];
  for (let depth = 0; depth < 5 && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      for (const name of safeReaddir(src, dir) ?? []) {
        const p = dir ? `${dir}/${name}` : name;
        const st = src.lstat(p);
        if (st?.type !== 'dir') continue;
        if (looksLikeDataRoot(src, p)) return p;
        if (next.length < 10_000) next.push(p);
      }
    }
    level = next;
  }
  return undefined;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Opens `--root`: a directory, an archive (.tar/.tar.gz/.tgz, detected by content), or
 * `archive:inner/path` / `dir:inner/path` to name the data root inside explicitly.
 */
export async function openEvidence(spec: string): Promise<Evidence> {
  let file = spec;
  let inner: string | undefined;
  if (!fs.existsSync(spec)) {
    const i = spec.lastIndexOf(':');
    if (i > 0 && fs.existsSync(spec.slice(0, i))) {
      file = spec.slice(0, i);
      inner = spec.slice(i + 1);
    } else {
      throw new EvidenceError('ENOENT', spec, `no such evidence: ${spec}`);
    }
  }
  // The archive reader (and tar-stream) is loaded only for an archive: a directory never needs it.
  const tar: TarSource | undefined = isFile(file) ? await (await import('./tar.js')).TarSource.open(path.resolve(file)) : undefined;
  const top: Source = tar ?? new DirSource(file);
  const problems = tar ? [...tar.problems] : [];
  let rootPath: string;
  if (inner !== undefined) {
    rootPath = splitPath(inner).join('/');
  } else {
    rootPath = findDataRoot(top) ?? '';
    if (rootPath === '' && !looksLikeDataRoot(top, '')) problems.push('no Docker data root recognised; reading the evidence top as one');
    const m = /^(.*?)\/?(\d{1,10}\.\d{1,10})$/.exec(rootPath);
    if (m) {
      const others = (safeReaddir(top, m[1]!) ?? []).filter((n) => n !== m[2] && /^\d{1,10}\.\d{1,10}$/.test(n) && looksLikeDataRoot(top, m[1] ? `${m[1]}/${n}` : n));
      if (others.length) problems.push(`several --userns-remap data roots: reading ${rootPath}; the others (${others.join(', ')}) need --root <evidence>:<path>`);
    }
  }
  const root = rootPath ? top.sub(rootPath) : top;
  return { top, root, rootPath, spec, problems };
}
