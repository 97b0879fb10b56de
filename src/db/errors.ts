/**
 * Whether a database error (or one it wraps: drizzle and the Neon driver nest the Postgres error
 * in `cause`) is a unique-constraint violation, SQLSTATE 23505.
 */
export function isUniqueViolation(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ((current as { code?: unknown }).code === "23505") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Whether a database error (or one it wraps) is an exclusion-constraint violation, SQLSTATE
 * 23P01: the row overlaps another that an `EXCLUDE` constraint keeps apart.
 */
export function isExclusionViolation(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ((current as { code?: unknown }).code === "23P01") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
