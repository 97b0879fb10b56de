/**
 * Sample customer databases for the "link your database" tests, loaded once per run into their
 * own databases on the test server: Chinook (tests/fixtures/sql) owned by the admin role, and a
 * login role that may only read it, as we tell customers to link.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";

const DATA_DIR = path.resolve(import.meta.dirname, "../fixtures/sql");
export const CHINOOK_DATABASE = "sample_chinook";
const READER_ROLE = "chinook_reader";
const READER_PASSWORD = "reader-secret-7d1f";

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Loads Chinook and returns URLs for the owner (can write) and a read-only role. */
export async function loadChinook(adminUrl: string, urlFor: (database: string) => string): Promise<{ ownerUrl: string; readerUrl: string }> {
  await withClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${CHINOOK_DATABASE} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${CHINOOK_DATABASE}`);
    await client.query(`DROP ROLE IF EXISTS ${READER_ROLE}`);
    await client.query(`CREATE ROLE ${READER_ROLE} LOGIN PASSWORD '${READER_PASSWORD}'`);
  });
  const ownerUrl = urlFor(CHINOOK_DATABASE);
  const script = await readFile(path.join(DATA_DIR, "chinook.sql"), "utf8");
  await withClient(ownerUrl, async (client) => {
    await client.query(script);
    await client.query("ANALYZE");
    await client.query(`GRANT USAGE ON SCHEMA public TO ${READER_ROLE}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${READER_ROLE}`);
  });
  const reader = new URL(ownerUrl);
  reader.username = READER_ROLE;
  reader.password = READER_PASSWORD;
  return { ownerUrl, readerUrl: reader.toString() };
}
