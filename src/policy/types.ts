/** Who is asking: all a policy may see (never a cookie, token or store). */
export interface Subject {
  sub: string;
  email?: string;
  groups: readonly string[];
  claims: Readonly<Record<string, unknown>>;
}

export interface RequestFacts {
  method: string;
  /** normalized path (see lib/path.ts) */
  path: string;
}

/** A denial is a value, not an exception. `reasons` are for logs, never shown verbatim to users. */
export interface Decision {
  allow: boolean;
  reasons: readonly string[];
}

export interface Policy {
  readonly name: string;
  evaluate(subject: Subject, request: RequestFacts): Decision;
  /**
   * True when a case-insensitive upstream would read `path` as under one of this policy's
   * path_prefix rules that it does not match exactly: the request is refused, not judged.
   */
  caseConfusable(path: string): boolean;
}
