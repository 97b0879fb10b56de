/**
 * Whether a database error (or one it wraps: drizzle and the Neon driver nest the Postgres error
 * in `cause`) carries SQLSTATE `code`.
 */
function hasSqlState(error: unknown, code: string): boolean {
  return fromCauses(error, (e) => (e.code === code ? true : undefined)) ?? false;
}

/** The first answer `pick` gives for the error or one of the errors it wraps (a few levels deep). */
function fromCauses<T>(error: unknown, pick: (e: Record<string, unknown>) => T | undefined): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const found = pick(current as Record<string, unknown>);
    if (found !== undefined) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
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

/** The SQLSTATE of a database error, or of the one it wraps; undefined for anything else. */
export function sqlStateOf(error: unknown): string | undefined {
  return fromCauses(error, (e) => (typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined));
}

/** The column Postgres names on a not-null violation (never a value), when it names one. */
export function sqlColumnOf(error: unknown): string | undefined {
  return fromCauses(error, (e) => {
    const column = e.column ?? e.column_name;
    return typeof column === "string" && column.length > 0 ? column : undefined;
  });
}
