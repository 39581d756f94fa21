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

export class Findings {
  readonly list: Finding[] = [];
  add(severity: Severity, code: string, message: string, path?: string): void {
    this.list.push(path === undefined ? { severity, code, message } : { severity, code, path, message });
  }
  /** Records a caught error: evidence errors become findings; programming errors are rethrown. */
  caught(e: unknown, code: string, path?: string): void {
    if (isEvidenceError(e)) this.add('error', code, e.message, path ?? e.path);
    else if (e instanceof SyntaxError || e instanceof RangeError) this.add('error', code, e.message, path);
    else throw e;
  }
  get hasErrors(): boolean {
    return this.list.some((f) => f.severity === 'error');
  }
}
