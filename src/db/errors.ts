/**
 * Whether a database error (or one it wraps: drizzle and the Neon driver nest the Postgres error
 * in `cause`) carries SQLSTATE `code`.
 */
function hasSqlState(error: unknown, code: string): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    if ((current as { code?: unknown }).code === code) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A unique-constraint violation, SQLSTATE 23505. */
export function isUniqueViolation(error: unknown): boolean {
  return hasSqlState(error, "23505");
}

/** An exclusion-constraint violation, SQLSTATE 23P01: the row overlaps another that an `EXCLUDE` constraint keeps apart. */
export function isExclusionViolation(error: unknown): boolean {
  return hasSqlState(error, "23P01");
}

/**
 * Runs a single-statement write again, once, when Postgres picked it as a deadlock's victim
 * (40P01). Two racing writes that an `EXCLUDE` constraint keeps apart can each wait for the
 * other's new index entry; Postgres then aborts one of them. By the time it runs again the other
 * has committed or rolled back, so the retry meets a plain violation (or succeeds).
 */
export async function retryDeadlockOnce<T>(statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (error) {
    if (!hasSqlState(error, "40P01")) throw error;
    return statement();
  }
}
