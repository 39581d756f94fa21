import type { Source } from '../source/types.js';
import type { Findings } from '../store/findings.js';

export interface TreeStats {
  /** Docker's directory.Size: Lstat sizes of non-directories, each hard-linked inode once. */
  size: number;
  /** Newest mtime of anything in the tree, the root included (ns). */
  newestNs?: bigint;
  entries: number;
  /** The walk stopped at a bound; size is a lower bound. */
  truncated: boolean;
}

/**
 * Walks a tree through the source, bounded in depth and entries, never following symlinks.
 * Used for layer sizes (FORMATS.md §1.3: overlay2 `size` = directory.Size(diff/)) and for the
 * size and newest time of leftovers.
 */
export function treeStats(src: Source, path: string, f: Findings, opts: { maxDepth?: number; maxEntries?: number; newest?: boolean } = {}): TreeStats {
  const maxDepth = opts.maxDepth ?? 512;
  const maxEntries = opts.maxEntries ?? 5_000_000;
  const out: TreeStats = { size: 0, entries: 0, truncated: false };
  const seen = new Set<string>();
  // `newest: false` (only the size is wanted): a directory's listed type is then all that is read
  // of it, no lstat (the directory source answers types from the parent's listing).
  const wantNewest = opts.newest ?? true;
  const note = (st: { mtimeNs: bigint }) => {
    if (!wantNewest) return;
    const ns = st.mtimeNs;
    if (out.newestNs === undefined || ns > out.newestNs) out.newestNs = ns;
  };
  const walk = (p: string, depth: number): void => {
    let names: string[] | undefined;
    try {
      names = src.readdir(p);
    } catch (e) {
      f.caught(e, 'tree.unreadable', p);
      return;
    }
    for (const name of names ?? []) {
      if (out.entries >= maxEntries) {
        out.truncated = true;
        return;
      }
      const child = p ? `${p}/${name}` : name;
      let st;
      try {
        st = src.lstat(child);
      } catch (e) {
        f.caught(e, 'tree.unreadable', child);
        continue;
      }
      if (!st) continue;
      out.entries++;
      note(st);
      if (st.type === 'dir') {
        if (depth >= maxDepth) out.truncated = true;
        else walk(child, depth + 1);
      } else if (st.nlink <= 1 || !seen.has(st.inode)) {
        if (st.nlink > 1) seen.add(st.inode);
        out.size += st.size;
      }
    }
  };
  try {
    const st = src.lstat(path);
    if (st) note(st);
    if (st?.type === 'dir') walk(path, 0);
    else if (st) {
      out.entries = 1;
      out.size = st.size;
    }
  } catch (e) {
    f.caught(e, 'tree.unreadable', path);
  }
  return out;
}
