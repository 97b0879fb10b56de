/**
 * Node side of the test harness, called over HTTP from test files running in workerd:
 * - `POST /databases` → `{url}` of a fresh database cloned from the migrated template. Cloning
 *   a template is a file copy in Postgres, far faster than running the migrations again.
 * - `POST /openapi/validate` → the verdict of an OpenAPI validator library on the posted document
 *   (the validator compiles schemas to code, which workerd does not allow, so it runs here).
 * - `/sql-data/*`: real-world SQL for the SQL guard's tests (see sql-data.ts).
 */
import { createServer, type IncomingMessage } from "node:http";
import { Validator } from "@seriousme/openapi-schema-validator";
import pg from "pg";
import { startSqlData } from "./sql-data.ts";

export const TEMPLATE_DATABASE = "billx_template";

export async function startControlServer(adminUrl: string, urlFor: (database: string) => string) {
  let counter = 0;
  // CREATE DATABASE ... TEMPLATE fails if another session is using the template; clone one at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const clone = async () => {
    const name = `test_${process.pid}_${++counter}`;
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE ${client.escapeIdentifier(TEMPLATE_DATABASE)}`);
    } finally {
      await client.end();
    }
    return urlFor(name);
  };

  const handleSqlData = startSqlData(adminUrl, urlFor);

  const server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    try {
      if (req.method === "POST" && req.url === "/databases") {
        const next = queue.then(clone);
        queue = next.catch(() => {});
        return reply(201, { url: await next });
      }
      if (req.method === "POST" && req.url === "/openapi/validate") {
        const result = await new Validator().validate(JSON.parse(await readBody(req)));
        return reply(200, { valid: result.valid, errors: result.errors ?? [] });
      }
      if (await handleSqlData(req, res, () => readBody(req))) return;
      reply(404, { message: "not found" });
    } catch (error) {
      reply(500, { message: error instanceof Error ? error.message : String(error) });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
