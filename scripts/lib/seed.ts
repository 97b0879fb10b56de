import { randomBytes } from "node:crypto";
import pg from "pg";
import { newId } from "../../src/lib/ids.ts";
import { hashPassword } from "../../src/lib/password.ts";
import { DEFAULT_FLOW } from "../../src/modules/sales/flows/default-flow.ts";

export const DEMO_EMAIL = "demo@billx.local";

/**
 * Seeds a demo organisation and its owner once. Returns the generated password the first time,
 * `null` when the demo user already exists (the password is never stored in clear anywhere).
 */
export async function seedDemo(databaseUrl: string): Promise<{ email: string; password: string; orgId: string } | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const existing = await client.query("SELECT 1 FROM users WHERE lower(email) = lower($1)", [DEMO_EMAIL]);
    if (existing.rowCount) return null;
    const password = randomBytes(12).toString("base64url");
    const orgId = newId("org");
    const userId = newId("usr");
    await client.query("BEGIN");
    await client.query("INSERT INTO organizations (id, name) VALUES ($1, $2)", [orgId, "Demo Shop"]);
    await client.query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)", [
      userId,
      DEMO_EMAIL,
      "Demo Owner",
      await hashPassword(password),
    ]);
    await client.query("INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'owner')", [orgId, userId]);
    await seedSalesChat(client, orgId, userId);
    await client.query("COMMIT");
    return { email: DEMO_EMAIL, password, orgId };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * What a first sales chat needs: the default flow with its usage agent, and a product the
 * product agent can quote (with its opening stock recorded as a movement, as the API records it).
 */
async function seedSalesChat(client: pg.Client, orgId: string, userId: string): Promise<void> {
  const agentId = newId("agt");
  await client.query(
    "INSERT INTO agents (id, org_id, name, description) VALUES ($1, $2, 'Sales chat', 'The sales chatbot: each conversation is an activity')",
    [agentId, orgId],
  );
  await client.query("INSERT INTO sales_flows (id, org_id, agent_id, stages) VALUES ($1, $2, $3, $4)", [
    newId("sfl"),
    orgId,
    agentId,
    JSON.stringify(DEFAULT_FLOW),
  ]);
  const productId = newId("prod");
  await client.query(
    "INSERT INTO products (id, org_id, name, sku, unit, price, tax_rate_bps, stock_quantity) VALUES ($1, $2, 'Arabica coffee beans 1kg', 'ARA-1K', 'piece', 1850, 0, 25)",
    [productId, orgId],
  );
  await client.query(
    "INSERT INTO stock_movements (id, org_id, product_id, change, reason, note, quantity_after, created_by) VALUES ($1, $2, $3, 25, 'correction', 'Demo opening stock', 25, $4)",
    [newId("stk"), orgId, productId, userId],
  );
}
