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
} as const;
