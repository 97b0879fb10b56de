/**
 * The local Neon gateway: lets the Worker run its production database code unchanged
 * against a plain local Postgres.
 *
 * - `POST /sql` speaks Neon's SQL-over-HTTP protocol (what `neon()` sends when
 *   `neonConfig.fetchEndpoint` points here).
 * - `GET /v1?address=host:port` upgraded to a WebSocket is a byte pipe to Postgres's TCP port
 *   (what `Pool`/`Client` use when `neonConfig.wsProxy` points here).
 *
 * Only the configured Postgres host:port is reachable through it, so it is not an open proxy.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import pg from "pg";
import { WebSocketServer } from "ws";

export interface NeonGateway {
  port: number;
  /** Value for the Worker's `NEON_LOCAL_GATEWAY` variable. */
  address: string;
  close(): Promise<void>;
}

interface SqlQuery {
  query: string;
  params?: unknown[];
}

// Every value comes back as Postgres's text output; the Neon driver parses it on the Worker side.
const rawText = { getTypeParser: () => (value: string) => value };

const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

export async function startNeonGateway(options: { postgresHost: string; postgresPort: number; port?: number }): Promise<NeonGateway> {
  const allowedAddress = `${options.postgresHost}:${options.postgresPort}`;
  // One small pool per connection string (database), reused across requests.
  const pools = new Map<string, pg.Pool>();
  const poolFor = (connectionString: string) => {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({ connectionString, max: 10, idleTimeoutMillis: 5_000 });
      pool.on("error", () => {}); // an idle client dying (e.g. database dropped) must not crash the gateway
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const server: Server = createServer((req, res) => {
    handleHttp(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { message: error instanceof Error ? error.message : String(error) });
      else res.end();
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://gateway");
    if (req.method !== "POST" || url.pathname !== "/sql") return sendJson(res, 404, { message: "not found" });

    const connectionString = header(req, "neon-connection-string");
    if (!connectionString) return sendJson(res, 400, { message: "missing Neon-Connection-String header" });
    const target = new URL(connectionString.replace(/^postgres(ql)?:/, "http:"));
    if (`${target.hostname}:${target.port || "5432"}` !== allowedAddress) return sendJson(res, 403, { message: `this gateway only reaches ${allowedAddress}` });

    const body = JSON.parse(await readBody(req)) as SqlQuery | { queries: SqlQuery[] };
    const client = await poolFor(connectionString.replace(/[?&]application_name=[^&]*/, "")).connect();
    let broken = false;
    try {
      if ("queries" in body) {
        const isolation = header(req, "neon-batch-isolation-level");
        const readOnly = header(req, "neon-batch-read-only") === "true";
        const deferrable = header(req, "neon-batch-deferrable") === "true";
        await client.query(
          `BEGIN${isolation ? ` ISOLATION LEVEL ${isolationSql(isolation)}` : ""}${readOnly ? " READ ONLY" : ""}${deferrable ? " DEFERRABLE" : ""}`,
        );
        try {
          const results = [];
          for (const q of body.queries) results.push(await run(client, q));
          await client.query("COMMIT");
          sendJson(res, 200, { results });
        } catch (error) {
          await client.query("ROLLBACK").catch(() => {
            broken = true;
          });
          throw error;
        }
      } else {
        sendJson(res, 200, await run(client, body));
      }
    } catch (error) {
      if (error instanceof Error && "severity" in error) {
        const fields = error as unknown as Record<string, unknown>;
        const payload: Record<string, unknown> = { message: error.message };
        for (const field of ERROR_FIELDS) if (fields[field] !== undefined) payload[field] = fields[field];
        sendJson(res, 400, payload);
      } else {
        broken = true;
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://gateway");
    const address = url.searchParams.get("address");
    if (url.pathname !== "/v1" || address !== allowedAddress) {
      socket.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const tcp = connect(options.postgresPort, options.postgresHost);
      const pending: Buffer[] = [];
      tcp.on("connect", () => {
        for (const chunk of pending.splice(0)) tcp.write(chunk);
      });
      ws.on("message", (data: Buffer) => {
        if (tcp.connecting) pending.push(data);
        else tcp.write(data);
      });
      tcp.on("data", (data) => ws.send(data));
      ws.on("close", () => tcp.end());
      ws.on("error", () => tcp.destroy());
      tcp.on("close", () => ws.close());
      tcp.on("error", () => ws.terminate());
    });
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    async close() {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
    },
  };
}

async function run(client: pg.PoolClient, { query, params = [] }: SqlQuery) {
  const result = await client.query({ text: query, values: params, rowMode: "array", types: rawText });
  return {
    command: result.command,
    rowCount: result.rowCount,
    rows: result.rows,
    fields: result.fields.map((f) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      tableID: f.tableID,
      columnID: f.columnID,
      dataTypeSize: f.dataTypeSize,
      dataTypeModifier: f.dataTypeModifier,
      format: f.format,
    })),
    rowAsArray: true,
  };
}

function isolationSql(level: string): string {
  const map: Record<string, string> = {
    ReadUncommitted: "READ UNCOMMITTED",
    ReadCommitted: "READ COMMITTED",
    RepeatableRead: "REPEATABLE READ",
    Serializable: "SERIALIZABLE",
  };
  const sql = map[level];
  if (!sql) throw new Error(`unknown isolation level ${level}`);
  return sql;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
