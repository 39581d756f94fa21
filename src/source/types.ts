import type { Readable } from 'node:stream';

/** Kinds of filesystem object, as the evidence recorded them. */
export type EntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket' | 'other';

export interface Stat {
  type: EntryType;
  size: number;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Nanoseconds since the epoch; bigint so nothing is rounded away. */
  mtimeNs: bigint;
  atimeNs?: bigint;
  ctimeNs?: bigint;
  nlink: number;
  /** Identity shared by hard links to the same inode ("dev:ino" on disk, first path in a tar). */
  inode: string;
  rdevMajor: number;
  rdevMinor: number;
  /** Symlink target exactly as stored (may be hostile; never follow it outside the source). */
  linkTarget?: string;
}

export type EvidenceErrorCode =
  | 'ENOENT' // nothing there
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ESCAPE' // the path (or a symlink on it) leads outside the evidence root
  | 'ELOOP' // too many symlinks
  | 'EBADPATH' // NUL, '..', or otherwise unusable path text
  | 'ETOOBIG' // over the read bound
  | 'EIO'; // the backend could not read it

/** The one error type the source layer throws; parsers turn it into findings. */
export class EvidenceError extends Error {
  constructor(
    readonly code: EvidenceErrorCode,
    readonly path: string,
    message?: string,
  ) {
    super(message ?? `${code}: ${path}`);
    this.name = 'EvidenceError';
  }
}

export function isEvidenceError(e: unknown, code?: EvidenceErrorCode): e is EvidenceError {
  return e instanceof EvidenceError && (code === undefined || e.code === code);
}

/**
 * A read-only view of an evidence tree. Every path is relative to the view's root, uses '/', and
 * can never reach outside it: '..', absolute paths and symlinks that climb out are refused with
 * ESCAPE. Nothing above src/source touches node:fs for evidence.
 */
export interface Source {
  readonly kind: 'dir' | 'tar';
  /** Where this view sits inside the evidence, for messages ("evidence.tgz:var/lib/docker"). */
  readonly label: string;
  /** Absolute path of this view's root as the analyst's machine sees it (dir) or as stored (tar). */
  readonly location: string;
  /** Metadata calls are synchronous: a directory answers them with a syscall, a tar from its index. */
  lstat(path: string): Stat | undefined;
  /** Like lstat but follows symlinks, as long as they stay inside the view. */
  stat(path: string): Stat | undefined;
  /** Sorted entry names; undefined when the directory does not exist. */
  readdir(path: string): string[] | undefined;
  /** Whole file, refused with ETOOBIG past `limit` bytes. Follows symlinks inside the view. */
  readFile(path: string, limit: number): Buffer;
  /**
   * Optional: readFile, but undefined where readFile would throw ENOENT. Most optional files of a store
   * are absent; a backend that offers this spares an exception per absent file.
   */
  readFileIfPresent?(path: string, limit: number): Buffer | undefined;
  readlink(path: string): string | undefined;
  /**
   * Optional hint: the entries of directory `path` are about to be looked at one by one. A backend
   * for which one listing is cheaper than a lookup per entry (a directory: one getdents instead of
   * an lstat per file, absent files included) lists it now. Never fails: problems surface on the
   * reads that follow.
   */
  prefetch?(path: string): void;
  /** Streams a file's bytes (follows symlinks inside the view); content can be large. */
  createReadStream(path: string): Readable;
  /** Extended attributes (PAX records in a tar; the filesystem's for a directory). */
  xattrs(path: string): Map<string, Buffer>;
  /**
   * Optional: read the xattrs of many paths at once, so that xattrs() answers them from memory. A directory
   * reads xattrs through a child process (Node has no xattr API), and one process per path is slow.
   */
  prefetchXattrs?(paths: readonly string[]): void;
  /**
   * Whether xattrs() can be trusted to list overlay markers: an empty answer then means "none".
   * False where they cannot be read (no reader, or trusted.* without root): absence proves nothing.
   */
  readonly hasXattrs: boolean;
  /** A contained view rooted at `path`. */
  sub(path: string): Source;
}

