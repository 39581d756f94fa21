import { EvidenceError } from './types.js';

/**
 * Splits a view-relative path into components, refusing anything that could climb out of the view
 * or confuse a backend: '..' components, NUL bytes. A leading '/' is read as the view's root, since
 * callers always mean "inside the evidence"; '.' and empty components are dropped.
 */
export function splitPath(path: string): string[] {
  if (path.includes('\0')) throw new EvidenceError('EBADPATH', path, 'path contains a NUL byte');
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new EvidenceError('EBADPATH', path, "path contains '..'");
    parts.push(part);
  }
  return parts;
}

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/**
 * Resolves a symlink target found at `linkDir` (components of the directory holding the link)
 * lexically. Absolute targets and targets that climb above the view's root are escapes: on the
 * original host they pointed outside the evidence we hold, and following them here would read the
 * analyst's own machine.
 */
export function resolveLinkTarget(linkDir: string[], target: string, where: string): string[] {
  if (target.includes('\0')) throw new EvidenceError('EBADPATH', where, 'symlink target contains a NUL byte');
  if (target.startsWith('/')) throw new EvidenceError('ESCAPE', where, `symlink to absolute path ${JSON.stringify(target)}`);
  const out = [...linkDir];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new EvidenceError('ESCAPE', where, `symlink ${JSON.stringify(target)} climbs out of the evidence root`);
      out.pop();
    } else out.push(part);
  }
  return out;
}

/** How many symlinks one lookup may pass through before it is called a loop (Linux uses 40). */
export const MAX_SYMLINK_HOPS = 40;
