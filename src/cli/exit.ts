/** Exit codes; documented in the README. */
export const EXIT = {
  /** Answered; the evidence read cleanly. */
  OK: 0,
  /** Could not answer: nothing matched, ambiguous reference, evidence unopenable. */
  ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  /** Answered, but part of the evidence could not be read or parsed: results may be partial. */
  PARTIAL: 3,
  /** verify: something in the store is inconsistent, missing or tampered with. */
  TAMPERED: 4,
  /** verify: nothing wrong found, but something could not be checked (no tar-split, unreadable). */
  UNCHECKED: 5,
  /** A bug in dockscope (an exception nobody expected); the message says so. */
  INTERNAL: 70,
} as const;
