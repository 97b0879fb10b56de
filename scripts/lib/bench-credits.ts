import { PgDialect } from "drizzle-orm/pg-core";
import pg from "pg";
import { newId } from "../../src/lib/ids.ts";
import { debitStatement } from "../../src/modules/money/credits/ledger.ts";

export interface DebitFigures {
  debits: number;
  /** Debits refused for want of credits; stays 0 unless the seeded balance ran out. */
  refused: number;
  debitsPerSecond: number;
}

// More than any run spends: a refused debit would measure the 402 path instead.
const SEEDED_BALANCE = 2_000_000_000;

/**
 * Debits per second straight against Postgres: `clients` connections, each running the credit
 * module's own debit statement (the conditional balance UPDATE plus its ledger INSERT, one
 * statement, one transaction) back to back for `seconds`, spread round-robin over `orgs`
 * organisations created for the run. With one organisation every debit queues on the same
 * balance row (the hot-row case); with many they rarely meet.
 */
export async function measureDebits(databaseUrl: string, options: { orgs: number; clients: number; seconds: number }): Promise<DebitFigures> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: options.clients });
  const dialect = new PgDialect();
  try {
    const orgIds = Array.from({ length: options.orgs }, () => newId("org"));
    await pool.query("INSERT INTO organizations (id, name) SELECT unnest($1::text[]), 'Bench debits'", [orgIds]);
    await pool.query("INSERT INTO credit_balances (org_id, balance) SELECT unnest($1::text[]), $2", [orgIds, SEEDED_BALANCE]);
    await pool.query(
      `INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id)
       SELECT unnest($1::text[]), unnest($2::text[]), 'grant', $3, $3, 'bench', 'seed'`,
      [orgIds.map(() => newId("cle")), orgIds, SEEDED_BALANCE],
    );

    let debits = 0;
    let refused = 0;
    let sequence = 0;
    const deadline = performance.now() + options.seconds * 1000;
    const client = async () => {
      while (performance.now() < deadline) {
        const orgId = orgIds[sequence++ % orgIds.length] as string;
        const statement = debitStatement({ orgId, amount: 1, reference: { type: "bench", id: String(sequence) }, entryId: newId("cle"), actorUserId: null });
        const query = dialect.sqlToQuery(statement);
        const { rowCount } = await pool.query(query.sql, query.params);
        if (rowCount === 1) debits++;
        else refused++;
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: options.clients }, client));
    const elapsedSeconds = (performance.now() - started) / 1000;

    // The ledger must still add up after the run: the figure is only worth something if it does.
    const { rows } = await pool.query<{ off: string }>(
      `SELECT count(*) AS off FROM credit_balances b
        WHERE b.org_id = ANY($1) AND b.balance <> (SELECT sum(amount) FROM credit_ledger l WHERE l.org_id = b.org_id)`,
      [orgIds],
    );
    if (Number(rows[0]?.off) !== 0) throw new Error(`${rows[0]?.off} bench balances disagree with their ledger`);
    await pool.query("DELETE FROM organizations WHERE id = ANY($1)", [orgIds]);
    return { debits, refused, debitsPerSecond: debits / elapsedSeconds };
  } finally {
    await pool.end();
  }
}
