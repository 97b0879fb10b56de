/**
 * Real-world SQL for the guard's tests, served by the control server (test files run in workerd,
 * which cannot read files):
 * - `POST /sql-data/defog` → `{queries: [{db_name, question, sql}]}`: the 210 defog sql-eval gold
 *   queries, expanded as sql-eval intends (the first `;`-separated alternative; the first `{a, b}`
 *   becomes `a`, and every later `{}` that same `a`), after loading each of the 11 defog
 *   databases into its own database on the test server (once per run).
 * - `POST /sql-data/defog/run` `{runs: [{db_name, sql}]}` → `{results: [{ok, rows} | {ok, error}]}`:
 *   each statement run inside `BEGIN READ ONLY` with a statement timeout, then rolled back.
 * - `GET /sql-data/adversarial` → `{files: {name: [line, ...]}}`: the SQL-injection payload lists.
 */
import { readdir, readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import pg from "pg";

const DATA_DIR = path.resolve(import.meta.dirname, "../fixtures/sql");
const DEFOG_DIR = path.join(DATA_DIR, "defog");
const ADVERSARIAL_DIR = path.join(DATA_DIR, "adversarial");

export interface GoldQuery {
  db_name: string;
  question: string;
  sql: string;
}

export interface RunResult {
  ok: boolean;
  rows?: number;
  error?: string;
}

/**
 * One gold query as it runs: the first `;`-separated alternative, the first `{a, b}` replaced by
 * `a`, and every later `{}` by that same `a` (the data README's rule).
 */
export function expandGoldQuery(query: string): string {
  const [first = ""] = query.split(";");
  const choice = /\{([^{}]*)\}/.exec(first);
  if (!choice) return first.trim();
  const picked = (choice[1] ?? "").split(",")[0]?.trim() ?? "";
  const expanded = first.slice(0, choice.index) + picked + first.slice(choice.index + choice[0].length);
  return expanded.replaceAll("{}", picked).trim();
}

/** RFC 4180 rows: quoted fields may hold commas, doubled quotes and newlines. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += char;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** The gold queries of questions_gen_postgres.csv, expanded. */
export async function readGoldQueries(): Promise<GoldQuery[]> {
  const [header, ...rows] = parseCsv(await readFile(path.join(DEFOG_DIR, "questions_gen_postgres.csv"), "utf8"));
  const column = (name: string) => header?.indexOf(name) ?? -1;
  const [question, query, dbName] = [column("question"), column("query"), column("db_name")];
  return rows
    .filter((row) => row.length > dbName)
    .map((row) => ({ db_name: row[dbName] ?? "", question: row[question] ?? "", sql: expandGoldQuery(row[query] ?? "") }));
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export function startSqlData(adminUrl: string, urlFor: (database: string) => string) {
  const databaseFor = (dbName: string) => `defog_${dbName}_${process.pid}`;
  let loaded: Promise<GoldQuery[]> | null = null;

  const loadDefog = async (): Promise<GoldQuery[]> => {
    const dumps = (await readdir(DEFOG_DIR)).filter((file) => file.endsWith(".sql"));
    await Promise.all(
      dumps.map(async (file) => {
        const database = databaseFor(path.basename(file, ".sql"));
        await withClient(adminUrl, async (client) => {
          await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(database)} WITH (FORCE)`);
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
        });
        const script = await readFile(path.join(DEFOG_DIR, file), "utf8");
        await withClient(urlFor(database), (client) => client.query(script));
      }),
    );
    return readGoldQueries();
  };

  const runReadOnly = async (runs: { db_name: string; sql: string }[]): Promise<RunResult[]> => {
    // Node 20 has no Map.groupBy.
    const byDatabase = new Map<string, { db_name: string; sql: string; index: number }[]>();
    for (const [index, run] of runs.entries()) byDatabase.set(run.db_name, [...(byDatabase.get(run.db_name) ?? []), { ...run, index }]);
    const results: RunResult[] = new Array(runs.length);
    await Promise.all(
      [...byDatabase].map(([dbName, group]) =>
        withClient(urlFor(databaseFor(dbName)), async (client) => {
          for (const run of group) {
            await client.query("BEGIN READ ONLY");
            try {
              await client.query("SET LOCAL statement_timeout = '10s'");
              const result = await client.query(run.sql);
              results[run.index] = { ok: true, rows: result.rowCount ?? 0 };
            } catch (error) {
              results[run.index] = { ok: false, error: error instanceof Error ? error.message : String(error) };
            } finally {
              await client.query("ROLLBACK");
            }
          }
        }),
      ),
    );
    return results;
  };

  const readPayloads = async (): Promise<Record<string, string[]>> => {
    const files = (await readdir(ADVERSARIAL_DIR)).filter((file) => file.endsWith(".txt"));
    const entries = await Promise.all(
      files.map(async (file) => {
        const lines = (await readFile(path.join(ADVERSARIAL_DIR, file), "utf8")).split(/\r?\n/);
        // `#` lines are the lists' own comments.
        return [file, lines.filter((line) => line.trim() !== "" && !line.startsWith("# "))] as const;
      }),
    );
    return Object.fromEntries(entries);
  };

  /** Answers the request when it is one of ours; false to let the control server go on. */
  return async function handleSqlData(req: IncomingMessage, res: ServerResponse, body: () => Promise<string>): Promise<boolean> {
    const reply = (status: number, value: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (req.method === "POST" && req.url === "/sql-data/defog") {
      loaded ??= loadDefog().catch((error: unknown) => {
        loaded = null;
        throw error;
      });
      reply(200, { queries: await loaded });
      return true;
    }
    if (req.method === "POST" && req.url === "/sql-data/defog/run") {
      const { runs } = JSON.parse(await body()) as { runs: { db_name: string; sql: string }[] };
      reply(200, { results: await runReadOnly(runs) });
      return true;
    }
    if (req.method === "GET" && req.url === "/sql-data/adversarial") {
      reply(200, { files: await readPayloads() });
      return true;
    }
    return false;
  };
}
