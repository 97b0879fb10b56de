ALTER TABLE "agent_events" DROP CONSTRAINT "agent_events_org_id_organizations_id_fk";
--> statement-breakpoint
ALTER TABLE "agent_events" DROP CONSTRAINT "agent_events_agent_id_agents_id_fk";
--> statement-breakpoint
-- Hand-written from here: the two foreign keys above become statement-level triggers with the
-- same guarantees, because a foreign key checks each inserted row on its own (two lookups per
-- event, a third of a 1,000-event batch's insert) where a trigger over the statement's transition
-- table checks its distinct (org_id, agent_id) pairs in one query. The rule is also stricter than
-- the two keys were: the agent must belong to the event's own organisation.
--
-- Races, as a foreign key handles them: the check takes FOR KEY SHARE on each agent it finds, so
-- an agent being deleted (or its id changed) by another transaction is waited for and, once gone,
-- not found; and a DELETE of an agent whose events are being inserted waits for that insert to
-- commit, then its own trigger deletes them too.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM agent_events e WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.org_id = e.org_id AND a.id = e.agent_id)) THEN
    RAISE EXCEPTION 'agent_events holds events whose agent is not in their organisation' USING ERRCODE = 'foreign_key_violation';
  END IF;
END
$$;--> statement-breakpoint
CREATE FUNCTION agent_events_check_agents() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  wanted bigint;
  found bigint;
BEGIN
  SELECT count(*) INTO wanted FROM (SELECT DISTINCT org_id, agent_id FROM new_rows) pairs;
  -- In id order, so two statements lock shared agents in the same order.
  SELECT count(*) INTO found FROM (
    SELECT 1 FROM agents a
     WHERE (a.org_id, a.id) IN (SELECT org_id, agent_id FROM new_rows)
     ORDER BY a.id
       FOR KEY SHARE OF a
  ) locked;
  IF found = wanted THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'insert or update on table "agent_events" names an agent that is not in the event''s organisation'
    USING ERRCODE = 'foreign_key_violation', TABLE = 'agent_events', CONSTRAINT = 'agent_events_org_agent_check';
END
$$;--> statement-breakpoint
-- Named to sort before agent_events_daily_*: AFTER triggers of one event fire in name order, so the
-- roll-ups are not touched by a statement the check refuses.
CREATE TRIGGER agent_events_agent_check_insert AFTER INSERT ON agent_events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_events_check_agents();--> statement-breakpoint
CREATE TRIGGER agent_events_agent_check_update AFTER UPDATE ON agent_events REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agent_events_check_agents();--> statement-breakpoint
-- ON DELETE CASCADE: an agent's deletion (also by its organisation's cascade) deletes its events.
CREATE FUNCTION agents_delete_events() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM agent_events e USING old_rows o WHERE e.org_id = o.org_id AND e.agent_id = o.id;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER agents_delete_events AFTER DELETE ON agents REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agents_delete_events();--> statement-breakpoint
-- ON UPDATE NO ACTION: an agent's id or organisation cannot change while events name it.
CREATE FUNCTION agents_keep_event_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM old_rows o
     WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.org_id = o.org_id AND n.id = o.id)
       AND EXISTS (SELECT 1 FROM agent_events e WHERE e.org_id = o.org_id AND e.agent_id = o.id)
  ) THEN
    RAISE EXCEPTION 'update on table "agents" would leave events naming an agent that is not there'
      USING ERRCODE = 'foreign_key_violation', TABLE = 'agents', CONSTRAINT = 'agent_events_org_agent_check';
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER agents_keep_event_keys AFTER UPDATE ON agents REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION agents_keep_event_keys();
