import { sql } from "drizzle-orm";
import type { ServiceCtx } from "../../../lib/context";
import { ServiceUnavailable } from "../../../lib/errors";

export interface Health {
  status: "ok";
  db: "ok";
  /** Providers this server talks to as local fakes (`FAKE_PROVIDERS=1 npm run dev`); empty when every provider is real. */
  fake_providers: string[];
}

/** Checks that the database answers a trivial query, and says which providers are local fakes. */
export async function checkHealth(ctx: ServiceCtx): Promise<Health> {
  try {
    await ctx.db.execute(sql`select 1`);
  } catch (error) {
    ctx.log.error("health check: database unreachable", { error });
    throw new ServiceUnavailable("The database is not reachable");
  }
  return { status: "ok", db: "ok", fake_providers: ctx.config.fakeProviders };
}
