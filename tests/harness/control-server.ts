/**
 * Node side of the test harness, called over HTTP from test files running in workerd:
 * - `POST /databases` → `{url}` of a fresh database cloned from the migrated template. Cloning
 *   a template is a file copy in Postgres, far faster than running the migrations again.
 * - `POST /openapi/validate` → the verdict of an OpenAPI validator library on the posted document
 *   (the validator compiles schemas to code, which workerd does not allow, so it runs here).
 * - `/sql-data/*`: real-world SQL for the SQL guard's tests (see sql-data.ts).
 * - `GET /audio-data/{name}`: a file of `../shared/data/audio/` beside the checkout (the spoken
 *   recordings and their `manifest.json`), 404 when absent. Tests may read shared data; src/ never does.
 * - `GET /twilio-data/{name}`: a file of `../shared/data/twilio/` (the captured Media Streams session).
 * - `GET /webhook-data/{name}`: a file of `../shared/data/webhooks/` (Telegram and WhatsApp webhook bodies, signature vectors).
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Validator } from "@seriousme/openapi-schema-validator";
import pg from "pg";
import { startSqlData } from "./sql-data.ts";

export const TEMPLATE_DATABASE = "billx_template";

const SHARED_DATA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/data");
/** The shared data folders tests may read, by the route that serves them. */
const SHARED_DATA_ROUTES: Record<string, string> = { "/audio-data/": "audio", "/twilio-data/": "twilio", "/webhook-data/": "webhooks" };
const DATA_TYPES: Record<string, string> = {
  ".wav": "audio/wav",
  ".ulaw": "audio/basic",
  ".json": "application/json",
  ".jsonl": "application/x-ndjson",
};

/** A file of one shared data folder, or undefined when the name is not a plain file name there. */
async function sharedData(folder: string, name: string): Promise<{ bytes: Buffer; type: string } | undefined> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return undefined;
  try {
    const bytes = await readFile(path.join(SHARED_DATA_DIR, folder, name));
    return { bytes, type: DATA_TYPES[path.extname(name)] ?? "application/octet-stream" };
  } catch {
    return undefined;
  }
}

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
      const dataRoute = Object.keys(SHARED_DATA_ROUTES).find((prefix) => req.url?.startsWith(prefix));
      if (req.method === "GET" && req.url && dataRoute) {
        const folder = SHARED_DATA_ROUTES[dataRoute] as string;
        const file = await sharedData(folder, decodeURIComponent(req.url.slice(dataRoute.length)));
        if (!file) return reply(404, { message: `no such ${folder} data file` });
        res.writeHead(200, { "content-type": file.type, "content-length": String(file.bytes.byteLength) }).end(file.bytes);
        return;
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
