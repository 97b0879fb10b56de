import { randomBytes } from "node:crypto";
import pg from "pg";
import { newId } from "../../src/lib/ids.ts";
import { hashPassword } from "../../src/lib/password.ts";

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
    await client.query("COMMIT");
    return { email: DEMO_EMAIL, password, orgId };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
