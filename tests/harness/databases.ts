/**
 * Node side of the per-file databases: a tiny HTTP server the test files call (from workerd) to
 * get a fresh database cloned from the migrated template. Cloning a template is a file copy in
 * Postgres, far faster than running the migrations again.
 */
import { createServer } from "node:http";
import pg from "pg";

export const TEMPLATE_DATABASE = "billx_template";

export async function startDatabaseFactory(adminUrl: string, urlFor: (database: string) => string) {
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

  const server = createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/databases") {
      res.writeHead(404).end();
      return;
    }
    const next = queue.then(clone);
    queue = next.catch(() => {});
    next.then(
      (url) => res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ url })),
      (error: Error) => res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ message: error.message })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
