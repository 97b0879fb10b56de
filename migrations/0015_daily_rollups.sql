CREATE TABLE "agent_event_daily_totals" (
	"org_id" text NOT NULL,
	"agent_id" text NOT NULL,
	"day" date NOT NULL,
	"kind" text NOT NULL,
	"type" text NOT NULL,
	"currency" text NOT NULL,
	"events" bigint DEFAULT 0 NOT NULL,
	"quantity" numeric(38, 3) DEFAULT '0' NOT NULL,
	"successes" bigint DEFAULT 0 NOT NULL,
	"value" bigint DEFAULT 0 NOT NULL,
	"amount" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "agent_event_daily_totals_org_id_agent_id_day_kind_type_currency_pk" PRIMARY KEY("org_id","agent_id","day","kind","type","currency")
);
--> statement-breakpoint
CREATE TABLE "retail_daily_totals" (
	"org_id" text NOT NULL,
	"day" date NOT NULL,
	"revenue" bigint DEFAULT 0 NOT NULL,
	"bill_count" bigint DEFAULT 0 NOT NULL,
	"outstanding" bigint DEFAULT 0 NOT NULL,
	"bill_payments" bigint DEFAULT 0 NOT NULL,
	"unallocated" bigint DEFAULT 0 NOT NULL,
	"refunds" bigint DEFAULT 0 NOT NULL,
	"new_customers" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "retail_daily_totals_org_id_day_pk" PRIMARY KEY("org_id","day")
);
--> statement-breakpoint
ALTER TABLE "agent_event_daily_totals" ADD CONSTRAINT "agent_event_daily_totals_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_event_daily_totals" ADD CONSTRAINT "agent_event_daily_totals_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "retail_daily_totals" ADD CONSTRAINT "retail_daily_totals_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agent_event_daily_totals_org_day_idx" ON "agent_event_daily_totals" USING btree ("org_id","day");--> statement-breakpoint
-- Hand-written from here: the triggers that keep the two roll-ups exact, and their rebuild.
-- They run in the writing transaction, so a roll-up commits or rolls back with its rows, and
-- `x = x + EXCLUDED.x` under ON CONFLICT's row lock adds concurrent writers' deltas exactly.
-- A delete only updates rows already there: while an organisation or an agent is deleted, its
-- roll-up rows may already be gone by cascade, and nothing must be re-created.
--
-- One source row's contribution to retail_daily_totals, signed (+1 added, -1 taken away). The
-- definitions are the dashboard summary's (src/modules/retail/dashboard/schemas.ts).
CREATE FUNCTION retail_daily_figures_of_bill(b bills, sign integer) RETURNS retail_daily_totals
LANGUAGE sql IMMUTABLE AS $$
  SELECT b.org_id, (coalesce(b.issued_at, b.created_at) AT TIME ZONE 'UTC')::date,
         CASE WHEN b.issued_at IS NOT NULL AND b.status NOT IN ('draft', 'void') THEN sign * (b.total - b.amount_refunded) ELSE 0 END,
         CASE WHEN b.issued_at IS NOT NULL AND b.status NOT IN ('draft', 'void') THEN sign ELSE 0 END,
         CASE WHEN b.status IN ('issued', 'partially_paid') THEN sign * (b.total - b.amount_paid) ELSE 0 END,
         0, 0, 0, 0
$$;--> statement-breakpoint
CREATE FUNCTION retail_daily_figures_of_bill_payment(p bill_payments, sign integer) RETURNS retail_daily_totals
LANGUAGE sql IMMUTABLE AS $$
  -- Money paid from credit already on account was counted when it was received.
  SELECT p.org_id, (p.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0,
         CASE WHEN p.method <> 'credit' THEN sign * p.amount ELSE 0 END, 0, 0, 0
$$;--> statement-breakpoint
CREATE FUNCTION retail_daily_figures_of_customer_payment(cp customer_payments, sign integer) RETURNS retail_daily_totals
LANGUAGE sql IMMUTABLE AS $$
  SELECT cp.org_id, (cp.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, sign * (cp.amount - cp.allocated), 0, 0
$$;--> statement-breakpoint
CREATE FUNCTION retail_daily_figures_of_bill_refund(r bill_refunds, sign integer) RETURNS retail_daily_totals
LANGUAGE sql IMMUTABLE AS $$
  SELECT r.org_id, (r.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, sign * r.amount, 0
$$;--> statement-breakpoint
CREATE FUNCTION retail_daily_figures_of_customer(c customers, sign integer) RETURNS retail_daily_totals
LANGUAGE sql IMMUTABLE AS $$
  SELECT c.org_id, (c.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 0, 0, sign
$$;--> statement-breakpoint
-- Signed contributions (a query's text) -> one row per (org_id, day), days without a figure
-- left out; the rebuild sums every raw row through it.
CREATE FUNCTION retail_daily_sums(contributions text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT org_id, day, sum(revenue) AS revenue, sum(bill_count) AS bill_count, sum(outstanding) AS outstanding,
           sum(bill_payments) AS bill_payments, sum(unallocated) AS unallocated, sum(refunds) AS refunds,
           sum(new_customers) AS new_customers
      FROM (%s) c
     GROUP BY org_id, day
    HAVING sum(revenue) <> 0 OR sum(bill_count) <> 0 OR sum(outstanding) <> 0 OR sum(bill_payments) <> 0
        OR sum(unallocated) <> 0 OR sum(refunds) <> 0 OR sum(new_customers) <> 0
     ORDER BY org_id, day$q$, contributions)
$$;--> statement-breakpoint
-- Retail: one organisation's bills, payments, refunds and customers all add to the same "today"
-- row, and a bill transaction takes other locks (stock, the customer's credit, the bill itself)
-- in an order of its own. A trigger firing mid-transaction would take the roll-up row's lock
-- among them, and two transactions taking it and another in opposite orders deadlock (a void
-- locks the customer before the bill; a payment locks the day's row before the customer's
-- ledger). So these are deferred row triggers: they run at commit, after every other lock of the
-- transaction is held, and hold the roll-up rows only for the commit itself. A bill transaction
-- writes a handful of rows; a bulk load should disable them and run the rebuild below.
CREATE FUNCTION retail_daily_totals_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  -- TG_ARGV[0] names the table's figures function above.
  figures text := TG_ARGV[0];
  added retail_daily_totals;
  taken retail_daily_totals;
  delta retail_daily_totals;
BEGIN
  IF TG_OP <> 'DELETE' THEN
    EXECUTE format('SELECT * FROM %I($1, 1)', figures) INTO added USING NEW;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    EXECUTE format('SELECT * FROM %I($1, -1)', figures) INTO taken USING OLD;
  END IF;
  IF added.org_id IS NOT NULL AND taken.org_id IS NOT NULL AND (added.org_id, added.day) = (taken.org_id, taken.day) THEN
    -- Same day before and after (a payment on the bill): one net change.
    added := ROW(added.org_id, added.day, added.revenue + taken.revenue, added.bill_count + taken.bill_count,
                 added.outstanding + taken.outstanding, added.bill_payments + taken.bill_payments,
                 added.unallocated + taken.unallocated, added.refunds + taken.refunds, added.new_customers + taken.new_customers);
    taken := NULL;
  END IF;
  FOREACH delta IN ARRAY ARRAY[taken, added] LOOP
    -- A change that moves no money (a link version, a reminder stamp, a name) writes nothing.
    CONTINUE WHEN delta.org_id IS NULL
      OR (delta.revenue, delta.bill_count, delta.outstanding, delta.bill_payments, delta.unallocated, delta.refunds, delta.new_customers)
         = (0, 0, 0, 0, 0, 0, 0);
    IF TG_OP = 'DELETE' THEN
      UPDATE retail_daily_totals t
         SET revenue = t.revenue + delta.revenue, bill_count = t.bill_count + delta.bill_count, outstanding = t.outstanding + delta.outstanding,
             bill_payments = t.bill_payments + delta.bill_payments, unallocated = t.unallocated + delta.unallocated,
             refunds = t.refunds + delta.refunds, new_customers = t.new_customers + delta.new_customers
       WHERE t.org_id = delta.org_id AND t.day = delta.day;
    ELSE
      INSERT INTO retail_daily_totals AS t VALUES (delta.*)
      ON CONFLICT (org_id, day) DO UPDATE
         SET revenue = t.revenue + EXCLUDED.revenue, bill_count = t.bill_count + EXCLUDED.bill_count,
             outstanding = t.outstanding + EXCLUDED.outstanding, bill_payments = t.bill_payments + EXCLUDED.bill_payments,
             unallocated = t.unallocated + EXCLUDED.unallocated, refunds = t.refunds + EXCLUDED.refunds,
             new_customers = t.new_customers + EXCLUDED.new_customers;
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;--> statement-breakpoint
DO $$
DECLARE
  source record;
BEGIN
  FOR source IN SELECT * FROM (VALUES ('bills', 'retail_daily_figures_of_bill'), ('bill_payments', 'retail_daily_figures_of_bill_payment'),
                                      ('customer_payments', 'retail_daily_figures_of_customer_payment'),
                                      ('bill_refunds', 'retail_daily_figures_of_bill_refund'), ('customers', 'retail_daily_figures_of_customer')) s(tab, figures)
  LOOP
    EXECUTE format('CREATE CONSTRAINT TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I DEFERRABLE INITIALLY DEFERRED
                    FOR EACH ROW EXECUTE FUNCTION retail_daily_totals_apply(%L)', source.tab || '_retail_daily_totals', source.tab, source.figures);
  END LOOP;
END
$$;--> statement-breakpoint
-- agent_events: statement-level with transition tables, one aggregate and one upsert per
-- statement whatever its row count (a row trigger would upsert once per event of a 1,000-event
-- batch). An ingestion statement is its transaction's last write, so it locks roll-up rows after
-- everything else, and in sorted key order, so two batches never take them in opposite orders.
-- Events are immutable, but a correction or an agent's deletion must not leave the sums wrong:
-- UPDATE and DELETE are kept too (they cost ingestion nothing).
--
-- The sums of a set of events per roll-up key, as a query over `source` (a transition table, or
-- agent_events itself for the rebuild), in key order.
CREATE FUNCTION agent_event_daily_sums(source text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT format($q$
    SELECT e.org_id, e.agent_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day, e.kind, e.type, coalesce(upper(e.currency), '') AS currency,
           count(*) AS events,
           coalesce(sum(e.quantity) FILTER (WHERE e.kind = 'activity'), 0) AS quantity,
           count(*) FILTER (WHERE e.kind = 'outcome' AND e.success) AS successes,
           coalesce(sum(e.value) FILTER (WHERE e.kind = 'outcome' AND e.success), 0) AS value,
           coalesce(sum(e.amount) FILTER (WHERE e.kind = 'cost'), 0) AS amount
      FROM %s e
     GROUP BY 1, 2, 3, 4, 5, 6
     ORDER BY 1, 2, 3, 4, 5, 6$q$, source)
$$;--> statement-breakpoint
CREATE FUNCTION agent_event_daily_totals_add() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    INSERT INTO agent_event_daily_totals AS t (org_id, agent_id, day, kind, type, currency, events, quantity, successes, value, amount) %s
    ON CONFLICT (org_id, agent_id, day, kind, type, currency) DO UPDATE
       SET events = t.events + EXCLUDED.events, quantity = t.quantity + EXCLUDED.quantity, successes = t.successes + EXCLUDED.successes,
           value = t.value + EXCLUDED.value, amount = t.amount + EXCLUDED.amount$q$, agent_event_daily_sums('new_rows'));
  RETURN NULL;
END
$$;--> statement-breakpoint
-- Signed per-event contributions of an UPDATE (new rows +1, old rows -1) or a DELETE (old rows -1).
CREATE FUNCTION agent_event_daily_totals_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO agent_event_daily_totals AS t (org_id, agent_id, day, kind, type, currency, events, quantity, successes, value, amount)
    SELECT org_id, agent_id, day, kind, type, currency, sum(events), sum(quantity), sum(successes), sum(value), sum(amount)
      FROM (SELECT e.org_id, e.agent_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day, e.kind, e.type, coalesce(upper(e.currency), '') AS currency,
                   1 AS events, CASE WHEN e.kind = 'activity' THEN e.quantity ELSE 0 END AS quantity,
                   CASE WHEN e.kind = 'outcome' AND e.success THEN 1 ELSE 0 END AS successes,
                   CASE WHEN e.kind = 'outcome' AND e.success THEN coalesce(e.value, 0) ELSE 0 END AS value,
                   CASE WHEN e.kind = 'cost' THEN coalesce(e.amount, 0) ELSE 0 END AS amount
              FROM new_rows e
            UNION ALL
            SELECT e.org_id, e.agent_id, (e.occurred_at AT TIME ZONE 'UTC')::date, e.kind, e.type, coalesce(upper(e.currency), ''),
                   -1, CASE WHEN e.kind = 'activity' THEN -e.quantity ELSE 0 END,
                   CASE WHEN e.kind = 'outcome' AND e.success THEN -1 ELSE 0 END,
                   CASE WHEN e.kind = 'outcome' AND e.success THEN -coalesce(e.value, 0) ELSE 0 END,
                   CASE WHEN e.kind = 'cost' THEN -coalesce(e.amount, 0) ELSE 0 END
              FROM old_rows e) c
     GROUP BY 1, 2, 3, 4, 5, 6
    HAVING sum(events) <> 0 OR sum(quantity) <> 0 OR sum(successes) <> 0 OR sum(value) <> 0 OR sum(amount) <> 0
     ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (org_id, agent_id, day, kind, type, currency) DO UPDATE
       SET events = t.events + EXCLUDED.events, quantity = t.quantity + EXCLUDED.quantity, successes = t.successes + EXCLUDED.successes,
           value = t.value + EXCLUDED.value, amount = t.amount + EXCLUDED.amount;
  ELSE
    EXECUTE format($q$
      UPDATE agent_event_daily_totals t
         SET events = t.events - d.events, quantity = t.quantity - d.quantity, successes = t.successes - d.successes,
             value = t.value - d.value, amount = t.amount - d.amount
        FROM (%s) d
       WHERE (t.org_id, t.agent_id, t.day, t.kind, t.type, t.currency) = (d.org_id, d.agent_id, d.day, d.kind, d.type, d.currency)$q$,
      agent_event_daily_sums('old_rows'));
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER agent_events_daily_insert AFTER INSERT ON agent_events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_event_daily_totals_add();--> statement-breakpoint
CREATE TRIGGER agent_events_daily_update AFTER UPDATE ON agent_events REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_event_daily_totals_change();--> statement-breakpoint
CREATE TRIGGER agent_events_daily_delete AFTER DELETE ON agent_events REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_event_daily_totals_change();--> statement-breakpoint
-- Recomputes the roll-ups from the raw rows, for one organisation or (NULL) all of them
-- (`npm run rollups:rebuild`). SHARE locks let reports read on but make writers wait, so no row
-- is committed between reading the raw rows and replacing the sums.
CREATE FUNCTION rebuild_retail_daily_totals(only_org text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  written bigint;
BEGIN
  LOCK TABLE bills, bill_payments, customer_payments, bill_refunds, customers IN SHARE MODE;
  LOCK TABLE retail_daily_totals IN EXCLUSIVE MODE;
  DELETE FROM retail_daily_totals WHERE only_org IS NULL OR org_id = only_org;
  EXECUTE format('INSERT INTO retail_daily_totals %s', retail_daily_sums($q$
    SELECT f.* FROM bills r CROSS JOIN LATERAL retail_daily_figures_of_bill(r, 1) f WHERE $1 IS NULL OR r.org_id = $1
    UNION ALL SELECT f.* FROM bill_payments r CROSS JOIN LATERAL retail_daily_figures_of_bill_payment(r, 1) f WHERE $1 IS NULL OR r.org_id = $1
    UNION ALL SELECT f.* FROM customer_payments r CROSS JOIN LATERAL retail_daily_figures_of_customer_payment(r, 1) f WHERE $1 IS NULL OR r.org_id = $1
    UNION ALL SELECT f.* FROM bill_refunds r CROSS JOIN LATERAL retail_daily_figures_of_bill_refund(r, 1) f WHERE $1 IS NULL OR r.org_id = $1
    UNION ALL SELECT f.* FROM customers r CROSS JOIN LATERAL retail_daily_figures_of_customer(r, 1) f WHERE $1 IS NULL OR r.org_id = $1$q$))
    USING only_org;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;--> statement-breakpoint
CREATE FUNCTION rebuild_agent_event_daily_totals(only_org text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  written bigint;
BEGIN
  LOCK TABLE agent_events IN SHARE MODE;
  LOCK TABLE agent_event_daily_totals IN EXCLUSIVE MODE;
  DELETE FROM agent_event_daily_totals WHERE only_org IS NULL OR org_id = only_org;
  EXECUTE format('INSERT INTO agent_event_daily_totals (org_id, agent_id, day, kind, type, currency, events, quantity, successes, value, amount) %s',
                 agent_event_daily_sums('(SELECT * FROM agent_events WHERE $1::text IS NULL OR org_id = $1)'))
    USING only_org;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END
$$;--> statement-breakpoint
-- Existing rows, summed once at migration time.
SELECT rebuild_retail_daily_totals();--> statement-breakpoint
SELECT rebuild_agent_event_daily_totals();
