import pg from "pg";
import { rawSummarySql } from "../../tests/harness/raw-aggregates.ts";
import { percentile, type SqlTimings, timeStatement } from "./bench-sql.ts";

export interface LatencyFigures {
  requests: number;
  failures: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface SeedFigures {
  bills: number;
  items: number;
  payments: number;
  seconds: number;
  /** Of `seconds`, the roll-up rebuild for the organisation after the load. */
  rollupSeconds: number;
}

/** A shop to bench in: its organisation and one API key per concurrent client. */
export interface BenchShop {
  orgId: string;
  keys: string[];
}

const LINES_PER_BILL = 10;
// More than any run sells, so a 409 for want of stock never shows up in the figures.
const OPENING_STOCK = "1000000";
const SEED_PRODUCTS = 200;
const SEED_CUSTOMERS = 1000;
const SEED_LINES_PER_BILL = 3;

/**
 * The organisation of `accessToken` and `clients` API keys in it. The API rate limit (600 a
 * minute) counts per key, so each client gets its own: the run measures billing, not the limiter.
 */
export async function benchShop(baseUrl: string, accessToken: string, clients: number): Promise<BenchShop> {
  const me = (await request(baseUrl, accessToken, "GET", "/v1/auth/me", undefined, 200)) as { orgs: { id: string }[] };
  const orgId = me.orgs[0]?.id;
  if (!orgId) throw new Error("the bench user has no organisation");
  const keys: string[] = [];
  for (let i = 0; i < clients; i++) {
    const created = (await request(baseUrl, accessToken, "POST", "/v1/api-keys", { name: `bench client ${i}` }, 201)) as { key: string };
    keys.push(created.key);
  }
  return { orgId, keys };
}

/**
 * Create-and-issue of a 10-line walk-in bill (`POST /v1/bills` with `issue: true`) over HTTP:
 * `count` bills, one client per key, each with one request in flight. All bills sell the same
 * ten products of one shop, so they also contend where a real till does: the product rows whose
 * stock they take and the organisation's bill-number sequence.
 */
export async function measureBillIssue(baseUrl: string, shop: BenchShop, count: number): Promise<LatencyFigures> {
  const owner = shop.keys[0] as string;
  const productIds: string[] = [];
  for (let i = 0; i < LINES_PER_BILL; i++) {
    const product = (await request(
      baseUrl,
      owner,
      "POST",
      "/v1/products",
      {
        name: `Bench product ${i}`,
        price: 199 + i * 100,
        tax_rate_bps: i % 2 === 0 ? 1800 : 500,
        stock_quantity: OPENING_STOCK,
      },
      201,
    )) as { id: string };
    productIds.push(product.id);
  }
  const body = JSON.stringify({
    issue: true,
    items: productIds.map((product_id, i) => ({ product_id, quantity: i % 3 === 0 ? "1.5" : 1 + (i % 4), discount: i === 4 ? 50 : undefined })),
  });
  return timeRequests(
    shop.keys,
    count,
    (key) => fetch(`${baseUrl}/v1/bills`, { method: "POST", headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` }, body }),
    201,
  );
}

/**
 * `count` issued bills in `orgId` straight through SQL (a few set-based INSERTs over
 * generate_series), as a shop with a year of history would have them: issued over the last
 * 13 months, 3 product lines each, 70% to one of 1,000 customers; 60% paid, 25% partly paid,
 * 10% unpaid and 5% void, with one payment row per paid or partly paid bill. Totals are the
 * sums of the lines. Ends with ANALYZE, as autovacuum would after a load this size.
 * A bulk load, so as the migration advises: the retail roll-up triggers (deferred, one per row)
 * are off for the load's session, and `rebuild_retail_daily_totals` sums the loaded rows after it.
 */
export async function seedBills(databaseUrl: string, orgId: string, count: number): Promise<SeedFigures> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const started = performance.now();
  try {
    await client.query("BEGIN");
    // Also skips foreign-key checks: every id below is made in this transaction.
    await client.query("SET LOCAL session_replication_role = replica");
    // A prefix per run keeps ids and bill numbers unique if the bench runs twice on one database.
    const run = `seed${Date.now().toString(36)}`;
    await client.query(
      `INSERT INTO products (id, org_id, name, sku, unit, price, stock_quantity)
       SELECT $2::text || '_prod_' || i, $1, 'Seeded product ' || i, $2::text || '-' || i, 'piece', 100 + (i * 37) % 4900, 1000
         FROM generate_series(0, $3 - 1) i`,
      [orgId, run, SEED_PRODUCTS],
    );
    await client.query(
      `INSERT INTO customers (id, org_id, name, created_at, updated_at)
       SELECT $2::text || '_cus_' || i, $1, 'Seeded customer ' || i, now() - (i % 400) * interval '1 day', now()
         FROM generate_series(0, $3 - 1) i`,
      [orgId, run, SEED_CUSTOMERS],
    );
    // Line n.k: quantity 1 + (n + k) % 3 of product (7n + k) % products at 100 + (31n + 17k) % 4900.
    const bills = await client.query(
      `INSERT INTO bills (id, org_id, number, customer_id, status, currency, subtotal, discount, tax, total, amount_paid,
                          issued_at, voided_at, created_at, updated_at)
       SELECT $2::text || '_bill_' || n, $1, $2::text || '-' || n,
              CASE WHEN n % 10 < 7 THEN $2::text || '_cus_' || (n % $4) END,
              s.status, 'USD', t.total, 0, 0, t.total,
              CASE s.status WHEN 'paid' THEN t.total WHEN 'partially_paid' THEN t.total / 2 ELSE 0 END,
              a.at, CASE WHEN s.status = 'void' THEN a.at + interval '1 hour' END, a.at, a.at
         FROM generate_series(1, $3) n
        CROSS JOIN LATERAL (SELECT CASE WHEN n % 20 = 0 THEN 'void' WHEN n % 20 < 3 THEN 'issued'
                                        WHEN n % 20 < 8 THEN 'partially_paid' ELSE 'paid' END AS status) s
        CROSS JOIN LATERAL (SELECT now() - (n % 396) * interval '1 day' - (n % 86400) * interval '1 second' AS at) a
        CROSS JOIN LATERAL (SELECT sum((1 + (n + k) % 3) * (100 + (31 * n + 17 * k) % 4900)) AS total
                              FROM generate_series(1, $5) k) t`,
      [orgId, run, count, SEED_CUSTOMERS, SEED_LINES_PER_BILL],
    );
    const items = await client.query(
      `INSERT INTO bill_items (id, bill_id, position, product_id, description, quantity, unit, unit_price,
                               line_subtotal, line_tax, line_total)
       SELECT $1::text || '_bli_' || n || '_' || k, $1::text || '_bill_' || n, k, $1::text || '_prod_' || ((7 * n + k) % $3),
              'Seeded product ' || ((7 * n + k) % $3), 1 + (n + k) % 3, 'piece', 100 + (31 * n + 17 * k) % 4900,
              (1 + (n + k) % 3) * (100 + (31 * n + 17 * k) % 4900), 0, (1 + (n + k) % 3) * (100 + (31 * n + 17 * k) % 4900)
         FROM generate_series(1, $2) n CROSS JOIN generate_series(1, $4) k`,
      [run, count, SEED_PRODUCTS, SEED_LINES_PER_BILL],
    );
    const payments = await client.query(
      `INSERT INTO bill_payments (id, bill_id, org_id, amount, method, created_at)
       SELECT $2::text || '_bpy_' || b.id, b.id, b.org_id, b.amount_paid, CASE WHEN b.total % 2 = 0 THEN 'cash' ELSE 'card' END,
              b.issued_at + interval '1 day'
         FROM bills b WHERE b.org_id = $1 AND b.id LIKE $2::text || '_bill_%' AND b.amount_paid > 0`,
      [orgId, run],
    );
    await client.query("COMMIT");
    const rebuildStarted = performance.now();
    await client.query("SELECT rebuild_retail_daily_totals($1)", [orgId]);
    const rollupSeconds = (performance.now() - rebuildStarted) / 1000;
    await client.query("ANALYZE bills; ANALYZE bill_items; ANALYZE bill_payments; ANALYZE customers; ANALYZE products; ANALYZE retail_daily_totals");
    return {
      bills: bills.rowCount ?? 0,
      items: items.rowCount ?? 0,
      payments: payments.rowCount ?? 0,
      seconds: (performance.now() - started) / 1000,
      rollupSeconds,
    };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * Deletes the organisation `seedBills` filled, so repeated runs do not pile up bills. Child rows go
 * first, set-based: left to ON DELETE CASCADE, every bill would fire its own cascade deletes. The
 * bulk deletes skip the roll-up triggers (the organisation's roll-up rows go with it anyway).
 */
export async function removeShop(databaseUrl: string, orgId: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("BEGIN");
    await client.query("SET LOCAL session_replication_role = replica");
    await client.query("DELETE FROM bill_payments p USING bills b WHERE b.id = p.bill_id AND b.org_id = $1", [orgId]);
    await client.query("DELETE FROM bill_items i USING bills b WHERE b.id = i.bill_id AND b.org_id = $1", [orgId]);
    await client.query("DELETE FROM bills WHERE org_id = $1", [orgId]);
    // Back on, so the organisation's delete cascades to everything else it owns.
    await client.query("SET LOCAL session_replication_role = origin");
    await client.query("DELETE FROM organizations WHERE id = $1", [orgId]);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * `GET /v1/dashboard/summary` for the year up to now, `count` times, one client per key with one
 * request in flight each: one key is a single person looking at the dashboard, several are a
 * busy back office.
 */
export async function measureSummary(baseUrl: string, keys: string[], count: number): Promise<LatencyFigures> {
  const to = new Date();
  const from = new Date(to);
  from.setUTCFullYear(from.getUTCFullYear() - 1);
  const url = `${baseUrl}/v1/dashboard/summary?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
  return timeRequests(keys, count, (key) => fetch(url, { headers: { Authorization: `Bearer ${key}` } }), 200);
}

/**
 * The summary's statement before the roll-ups (every figure summed from the raw rows), for the
 * same year as measureSummary, timed straight on Postgres: the database's share of the "before".
 */
export async function measureRawSummarySql(databaseUrl: string, orgId: string, times: number): Promise<SqlTimings> {
  const to = new Date();
  const from = new Date(to);
  from.setUTCFullYear(from.getUTCFullYear() - 1);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await timeStatement(client, rawSummarySql(orgId, from.toISOString(), to.toISOString()), times);
  } finally {
    await client.end();
  }
}

/** Sends `count` requests, one client per key, each waiting for its previous answer; timed here. */
async function timeRequests(keys: string[], count: number, send: (key: string) => Promise<Response>, expected: number): Promise<LatencyFigures> {
  const timings: number[] = [];
  let failures = 0;
  let next = 0;
  let firstFailure: string | undefined;
  const client = async (key: string) => {
    while (next < count) {
      next++;
      const started = performance.now();
      const response = await send(key);
      const text = await response.text();
      timings.push(performance.now() - started);
      if (response.status !== expected) {
        failures++;
        firstFailure ??= `${response.status} ${text.slice(0, 300)}`;
      }
    }
  };
  const started = performance.now();
  await Promise.all(keys.map(client));
  const seconds = (performance.now() - started) / 1000;
  if (firstFailure) console.error(`bench: ${failures} of ${count} requests failed, first: ${firstFailure}`);
  return {
    requests: timings.length,
    failures,
    perSecond: (timings.length - failures) / seconds,
    p50Ms: percentile(timings, 50),
    p99Ms: percentile(timings, 99),
  };
}

async function request(baseUrl: string, token: string, method: string, path: string, body: unknown, expected: number): Promise<unknown> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status !== expected) throw new Error(`bench ${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
