import { isEvidenceError } from '../source/types.js';

/**
 * Something odd, missing or inconsistent in the evidence. Parsers return these instead of
 * throwing: one bad object must never hide the rest of the store.
 *  - info: worth knowing, not a defect (a `-removing` dir, a leftover write-set)
 *  - warn: inconsistent or unusual, results still complete
 *  - error: something could not be read or parsed; results are partial
 */
export type Severity = 'info' | 'warn' | 'error';

export interface Finding {
  severity: Severity;
  /** Stable machine code, e.g. 'layerdb.bad-diff'. */
  code: string;
  /** Evidence path (relative to the data root) the finding is about, when there is one. */
  path?: string;
  message: string;
}

/** Something read only when asked (e.g. an overlay2 dir's entries), whose findings have a place reserved. */
export interface Deferred {
  /** Reads what was put off, reporting to `f`. Findings calls it at most once per defer(). */
  load(f: Findings): void;
}

export class Findings {
  private readonly items: Finding[] = [];
  /**
   * Places reserved by defer(), in order: where in `items` their findings go, and those findings
   * once loaded. Emptied when `list` is read.
   */
  private readonly pending = new Map<Deferred, number>();
  /** Findings of pending reads already forced, until `list` puts them in place. */
  private readonly early = new Map<Deferred, Finding[]>();

  /**
   * Every finding, in the order the evidence was read. Reading it first loads whatever was
   * deferred and not yet asked for, and puts its findings where they were deferred: the list is
   * the same as if everything had been read up front.
   */
  get list(): Finding[] {
    if (this.pending.size > 0) this.settle();
    return this.items;
  }

  add(severity: Severity, code: string, message: string, path?: string): void {
    this.items.push(path === undefined ? { severity, code, message } : { severity, code, path, message });
  }

  /**
   * Reserves the current place in the list for `what`, read later: by force(what) when one of its
   * facts is needed, or by reading `list`. A command that never asks (a listing) never reads it.
   */
  defer(what: Deferred): void {
    this.pending.set(what, this.items.length);
  }

  /**
   * Loads a deferred `what` now (its findings keep their reserved place); at most once while its
   * place is reserved. Owners call it only while they lack the facts: once `list` has been read
   * nothing is reserved, and a `what` asked for then is loaded again, reporting at the end.
   */
  force(what: Deferred): void {
    if (!this.pending.has(what)) {
      what.load(this); // not (or no longer) deferred: report in order of reading
      return;
    }
    if (this.early.has(what)) return;
    const sub = new Findings();
    this.early.set(what, sub.items); // set first: a load that asks for its own facts must not recurse
    what.load(sub);
  }

  private settle(): void {
    for (const what of this.pending.keys()) this.force(what);
    const merged: Finding[] = [];
    let i = 0;
    for (const [what, at] of this.pending) {
      while (i < at) merged.push(this.items[i++]!);
      for (const x of this.early.get(what)!) merged.push(x);
    }
    while (i < this.items.length) merged.push(this.items[i++]!);
    this.pending.clear();
    this.early.clear();
    // In place: the array `list` handed out stays the list.
    this.items.length = 0;
    for (const x of merged) this.items.push(x);
  }
  /** Records a caught error: evidence errors become findings; programming errors are rethrown. */
  caught(e: unknown, code: string, path?: string): void {
    if (isEvidenceError(e)) this.add('error', code, e.message, path ?? e.path);
    else if (e instanceof SyntaxError || e instanceof RangeError) this.add('error', code, e.message, path);
    else throw e;
  }
  /**
   * Whether an error was found in what has been read: deferred reads nobody asked for are not
   * forced (a listing does not read the overlay2 dir entries it does not show).
   */
  get hasErrors(): boolean {
    if (this.items.some((f) => f.severity === 'error')) return true;
    for (const found of this.early.values()) if (found.some((f) => f.severity === 'error')) return true;
    return false;
  }
}
