import { MAX_SYMLINK_HOPS, resolveLinkTarget, splitPath } from './paths.js';
import { EvidenceError, type Stat } from './types.js';

/**
 * The raw operations a backend offers on already-resolved component paths (relative to the
 * backend's top). They never see '..' and never follow symlinks themselves.
 */
export interface RawTree {
  rawLstat(parts: string[]): Stat | undefined;
}

/**
 * Walks `path` below `base` component by component, following symlinks the way the kernel would
 * but only inside `base`: that is the containment guarantee of the whole source layer. Returns the
 * resolved components (relative to the backend top) and the final entry's lstat, or undefined
 * when a component does not exist.
 */
export function resolvePath(
  tree: RawTree,
  base: string[],
  path: string,
  followLast: boolean,
): { parts: string[]; st: Stat | undefined } {
  let pending = splitPath(path);
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const name = pending[0]!;
    const rest = pending.slice(1);
    const parts = [...base, ...done, name];
    const st = tree.rawLstat(parts);
    if (!st) {
      if (rest.length > 0) return { parts: [...base, ...done, ...pending], st: undefined };
      return { parts, st: undefined };
    }
    const isLast = rest.length === 0;
    if (st.type === 'symlink' && (!isLast || followLast)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new EvidenceError('ELOOP', path, 'too many levels of symbolic links');
      const target = resolveLinkTarget(done, st.linkTarget ?? '', path);
      pending = [...target, ...rest];
      done.length = 0;
      continue;
    }
    if (!isLast && st.type !== 'dir') throw new EvidenceError('ENOTDIR', path);
    done.push(name);
    pending = rest;
    if (isLast) return { parts, st };
  }
  const parts = [...base, ...done];
  return { parts, st: tree.rawLstat(parts) };
}
