/**
 * `npm run rollups:rebuild [org_id]`: recomputes the daily roll-ups (retail_daily_totals,
 * agent_event_daily_totals) from the raw rows, for one organisation or every one, in
 * $DATABASE_URL or the embedded dev database. For after a restore, a hand-made correction that
 * bypassed the triggers, or to check them: the figures it writes are what the triggers keep.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import type { Database } from "../src/db/client.ts";
import * as schema from "../src/db/schema/index.ts";
import { rebuildDailyRollups } from "../src/modules/usage/rollups/rebuild.ts";
import { startLocalStack } from "./lib/local-stack.ts";

const orgId = process.argv[2];
const stack = await startLocalStack();
const client = new pg.Client({ connectionString: stack.databaseUrl });
await client.connect();
try {
  const started = performance.now();
  const counts = await rebuildDailyRollups(drizzle(client, { schema }) as unknown as Database, orgId);
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  console.log(`rebuilt ${orgId ?? "every organisation"}: ${counts.retailDays} retail days, ${counts.eventDays} agent event days in ${seconds} s`);
} finally {
  await client.end();
  await stack.stop();
}
