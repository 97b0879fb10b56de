/**
 * Versioned, idempotent schema for a Durable Object's SQLite storage: migration N runs once,
 * in order, and the version is recorded in the same storage. Run it from the constructor inside
 * `blockConcurrencyWhile` so no request sees a half-migrated object.
 */
export function migrate(sql: SqlStorage, migrations: readonly string[]): number {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema WHERE id = 1").toArray()[0];
  let version = row?.version ?? 0;
  for (; version < migrations.length; version++) {
    sql.exec(migrations[version] as string);
    sql.exec("INSERT INTO _schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version", version + 1);
  }
  return version;
}
