import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agents, assistants, auditEvents, bookings, linkedDatabases } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import type { Page } from "../src/lib/pagination";
import type { Assistant } from "../src/modules/assistants/assistants/service";
import { call, expectJson, joinOrgAs, type SignedUp, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

const MINIMAL = { name: "Ava", business_name: "Bright Smile Dental", timezone: "America/Chicago" };

function postAssistant(who: SignedUp, body: Record<string, unknown>): Promise<Response> {
  return call("/v1/assistants", { token: who.access_token, orgId: who.orgId, body });
}

async function createAssistant(who: SignedUp, body: Record<string, unknown> = MINIMAL): Promise<Assistant> {
  return expectJson<Assistant>(await postAssistant(who, body), 201);
}

async function listAssistants(who: SignedUp, query = ""): Promise<Page<Assistant>> {
  return expectJson<Page<Assistant>>(await call(`/v1/assistants${query}`, { token: who.access_token, orgId: who.orgId }), 200);
}

function patchAssistant(who: SignedUp, id: string, body: Record<string, unknown>): Promise<Response> {
  return call(`/v1/assistants/${id}`, { method: "PATCH", token: who.access_token, orgId: who.orgId, body });
}

/** A linked database row of `orgId`, written directly: assistants only check that it is the org's. */
async function linkedDatabase(orgId: string): Promise<string> {
  const id = newId("ldb");
  await testCtx()
    .db.insert(linkedDatabases)
    .values({
      id,
      orgId,
      name: `db-${id}`,
      urlSealed: "sealed",
      keyId: "k1",
      host: "db.example.com",
      databaseName: "shop",
      schemaCache: [],
      schemaRefreshedAt: new Date(),
      roleCanWrite: false,
    });
  return id;
}

async function fieldPaths(response: Response): Promise<string[]> {
  const problem = await expectProblem(response, 422);
  return (problem.errors ?? []).map((e) => e.path).sort();
}

describe("adding an assistant", () => {
  it("stores every field, creates its agent in the same organisation and audits both", async () => {
    const owner = await signUp("ast-create");
    const databaseId = await linkedDatabase(owner.orgId);
    const full = {
      business_name: "Bright Smile Dental",
      business_description: "Family dentist",
      timezone: "America/New_York",
      weekly_hours: {
        mon: [
          ["09:00", "12:00"],
          ["13:00", "17:30"],
        ],
        sat: [["10:00", "24:00"]],
      },
      slot_duration: 45,
      buffer_minutes: 15,
      min_notice_minutes: 0,
      horizon_days: 14,
      language: "en-US",
      greeting: "Hello, this is Ava.",
      instructions: "Be brief.",
      voice: "coral",
      tools: ["check_availability", "ask_database"],
      database_id: databaseId,
      business_phone: "+15125550123",
    };
    const created = await createAssistant(owner, { ...full, name: " Ava ", closed_dates: ["2026-12-25", "2026-01-01", "2026-12-25"] });
    expect(created).toEqual({
      ...full,
      id: expect.stringMatching(/^ast_/),
      name: "Ava",
      closed_dates: ["2026-01-01", "2026-12-25"],
      phone_numbers: [],
      agent_id: expect.stringMatching(/^agt_/),
      status: "active",
      created_at: expect.stringMatching(/Z$/),
      updated_at: expect.stringMatching(/Z$/),
    });
    const [row] = await testCtx().db.select().from(assistants).where(eq(assistants.id, created.id));
    expect(row).toMatchObject({ orgId: owner.orgId, agentId: created.agent_id, slotDuration: 45 });
    const [agent] = await testCtx().db.select().from(agents).where(eq(agents.id, created.agent_id));
    expect(agent).toMatchObject({ orgId: owner.orgId, name: "Ava", status: "active" });
    const audit = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.orgId, owner.orgId));
    expect(audit.map((a) => a.action).sort()).toEqual(expect.arrayContaining(["agent.created", "assistant.created"]));
  });

  it("fills defaults and accepts the seed's shorthand and voice_type", async () => {
    const owner = await signUp("ast-shorthand");
    const minimal = await createAssistant(owner);
    expect(minimal).toMatchObject({
      weekly_hours: {},
      slot_duration: 30,
      buffer_minutes: 0,
      min_notice_minutes: 60,
      horizon_days: 60,
      closed_dates: [],
      language: "en",
      voice: "shimmer",
      tools: ["check_availability", "book_appointment", "cancel_booking", "search_knowledge", "transfer_call", "end_call"],
      database_id: null,
      business_phone: null,
      greeting: null,
    });
    const seed = await createAssistant(owner, {
      receptionist_name: "Max",
      business_name: "Corner Barber",
      timezone: "UTC",
      start_time: "09:00",
      end_time: "17:00",
      available_days: { monday: true, tuesday: false, friday: true },
      booking_duration_minutes: 20,
      voice_type: "male",
    });
    expect(seed).toMatchObject({ name: "Max", weekly_hours: { mon: [["09:00", "17:00"]], fri: [["09:00", "17:00"]] }, slot_duration: 20, voice: "ash" });
  });

  it("refuses bad fields with their paths and stores nothing", async () => {
    const owner = await signUp("ast-bad");
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, timezone: "Mars/Olympus" }))).toEqual(["timezone"]);
    expect(
      await fieldPaths(
        await postAssistant(owner, {
          ...MINIMAL,
          weekly_hours: {
            mon: [
              ["09:00", "12:00"],
              ["11:00", "13:00"],
            ],
          },
        }),
      ),
    ).toEqual(["weekly_hours.mon.1"]);
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, weekly_hours: { tue: [["12:00", "09:00"]] } }))).toEqual(["weekly_hours.tue.0"]);
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, weekly_hours: { wed: [["9:00", "25:00"]] } }))).toEqual([
      "weekly_hours.wed.0.0",
      "weekly_hours.wed.0.1",
    ]);
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, closed_dates: ["2026-02-30", "soon"] }))).toEqual(["closed_dates.0", "closed_dates.1"]);
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, receptionist_name: "Max" }))).toEqual(["receptionist_name"]);
    expect(
      await fieldPaths(await postAssistant(owner, { ...MINIMAL, weekly_hours: {}, start_time: "09:00", end_time: "10:00", available_days: { monday: true } })),
    ).toEqual(["available_days", "end_time", "start_time"]);
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, start_time: "09:00" }))).toEqual(["available_days", "end_time"]);
    expect(
      await fieldPaths(await postAssistant(owner, { ...MINIMAL, slot_duration: 4, business_phone: "555-1234", tools: ["fly"], language: "english!" })),
    ).toEqual(["business_phone", "language", "slot_duration", "tools.0"]);
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, name: "A\u0000va", greeting: "hi\u0000" }))).toEqual(["greeting", "name"]);
    expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, voice: "ash", voice_type: "male" }))).toEqual(["voice_type"]);
    expect((await listAssistants(owner)).data).toEqual([]);
  });

  it("refuses a database of another organisation or none at all with 422 on database_id", async () => {
    const owner = await signUp("ast-db");
    const other = await signUp("ast-db-other");
    const foreign = await linkedDatabase(other.orgId);
    for (const databaseId of [foreign, "ldb_01JD3X6W6X8Q3M1B0V4T2Y9ZZZ", "x\u0000y"]) {
      expect(await fieldPaths(await postAssistant(owner, { ...MINIMAL, database_id: databaseId }))).toEqual(["database_id"]);
    }
    expect((await listAssistants(owner)).data).toEqual([]);
    expect(await testCtx().db.select().from(agents).where(eq(agents.orgId, owner.orgId))).toEqual([]);
  });

  it("creates once per Idempotency-Key: retries answer 200 with the first, racing ones make one row, another body is 409", async () => {
    const owner = await signUp("ast-idem");
    const withKey = (body: Record<string, unknown>, key: string) =>
      call("/v1/assistants", { token: owner.access_token, orgId: owner.orgId, body, headers: { "Idempotency-Key": key } });
    const first = await expectJson<Assistant>(await withKey(MINIMAL, "onboard-ava"), 201);
    // The same fields in another order are the same request.
    const retried = await expectJson<Assistant>(
      await withKey({ timezone: MINIMAL.timezone, business_name: MINIMAL.business_name, name: "Ava" }, "onboard-ava"),
      200,
    );
    expect(retried.id).toBe(first.id);
    const conflict = await expectProblem(await withKey({ ...MINIMAL, name: "Bea" }, "onboard-ava"), 409);
    expect(conflict.detail).toContain("Idempotency-Key");

    const racing = await Promise.all(Array.from({ length: 5 }, () => withKey({ ...MINIMAL, name: "Cy" }, "racing-key")));
    expect(racing.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    const ids = new Set(await Promise.all(racing.map(async (r) => ((await r.json()) as Assistant).id)));
    expect(ids.size).toBe(1);
    const rows = await testCtx().db.select().from(assistants).where(eq(assistants.orgId, owner.orgId));
    expect(rows.map((r) => r.name).sort()).toEqual(["Ava", "Cy"]);
    expect(await testCtx().db.select().from(agents).where(eq(agents.orgId, owner.orgId))).toHaveLength(2);
  });

  it("needs assistants:write: a viewer may read but not write", async () => {
    const owner = await signUp("ast-perm");
    const viewer = await joinOrgAs(owner, "viewer");
    const asViewer = { ...viewer, orgId: owner.orgId };
    await expectProblem(await postAssistant(asViewer, MINIMAL), 403);
    const assistant = await createAssistant(owner);
    expect((await listAssistants(asViewer)).data.map((a) => a.id)).toEqual([assistant.id]);
    await expectJson(await call(`/v1/assistants/${assistant.id}`, { token: viewer.access_token, orgId: owner.orgId }), 200);
    await expectProblem(await patchAssistant(asViewer, assistant.id, { name: "Mine" }), 403);
    await expectProblem(await call(`/v1/assistants/${assistant.id}`, { method: "DELETE", token: viewer.access_token, orgId: owner.orgId }), 403);
    const [row] = await testCtx().db.select().from(assistants).where(eq(assistants.id, assistant.id));
    expect(row).toMatchObject({ name: "Ava", status: "active" });
  });
});

describe("listing assistants", () => {
  it("searches name and business name, hides archived ones unless asked, and pages", async () => {
    const owner = await signUp("ast-list");
    const ava = await createAssistant(owner, { ...MINIMAL, name: "Ava", business_name: "Bright Smile Dental" });
    const max = await createAssistant(owner, { ...MINIMAL, name: "Max", business_name: "Corner Barber" });
    const old = await createAssistant(owner, { ...MINIMAL, name: "Old dental desk", business_name: "Closed clinic" });
    expect((await call(`/v1/assistants/${old.id}`, { method: "DELETE", token: owner.access_token })).status).toBe(204);

    expect((await listAssistants(owner)).data.map((a) => a.id)).toEqual([ava.id, max.id]);
    expect((await listAssistants(owner, "?q=DENTAL")).data.map((a) => a.id)).toEqual([ava.id]);
    expect((await listAssistants(owner, "?q=max")).data.map((a) => a.id)).toEqual([max.id]);
    expect((await listAssistants(owner, "?q=50%25")).data).toEqual([]);
    expect((await listAssistants(owner, "?status=archived")).data.map((a) => a.id)).toEqual([old.id]);
    await expectProblem(await call("/v1/assistants?q=%00", { token: owner.access_token }), 422);

    const first = await listAssistants(owner, "?limit=1");
    expect(first).toEqual({ data: [expect.objectContaining({ id: ava.id })], next_cursor: ava.id });
    const second = await listAssistants(owner, `?limit=1&cursor=${first.next_cursor}`);
    expect(second).toEqual({ data: [expect.objectContaining({ id: max.id })], next_cursor: null });
  });
});

describe("changing and archiving an assistant", () => {
  it("changes only the given fields, clears nulls, renames the agent and audits", async () => {
    const owner = await signUp("ast-patch");
    const databaseId = await linkedDatabase(owner.orgId);
    const assistant = await createAssistant(owner, {
      ...MINIMAL,
      greeting: "Hi",
      business_phone: "+15125550123",
      database_id: databaseId,
      weekly_hours: { mon: [["09:00", "17:00"]] },
    });
    const updated = await expectJson<Assistant>(
      await patchAssistant(owner, assistant.id, { name: "Ava 2", greeting: null, business_phone: null, database_id: null, horizon_days: 7 }),
      200,
    );
    expect(updated).toEqual({
      ...assistant,
      name: "Ava 2",
      greeting: null,
      business_phone: null,
      database_id: null,
      horizon_days: 7,
      updated_at: expect.any(String),
    });
    const [agent] = await testCtx().db.select().from(agents).where(eq(agents.id, assistant.agent_id));
    expect(agent?.name).toBe("Ava 2");
    const shorthand = await expectJson<Assistant>(
      await patchAssistant(owner, assistant.id, { start_time: "10:00", end_time: "14:00", available_days: { sunday: true }, booking_duration_minutes: 15 }),
      200,
    );
    expect(shorthand).toMatchObject({ weekly_hours: { sun: [["10:00", "14:00"]] }, slot_duration: 15, name: "Ava 2" });
    const audit = await testCtx()
      .db.select()
      .from(auditEvents)
      .where(and(eq(auditEvents.orgId, owner.orgId), eq(auditEvents.targetId, assistant.id)));
    expect(audit.map((a) => a.action).sort()).toEqual(["assistant.created", "assistant.updated", "assistant.updated"]);
  });

  it("refuses bad patches with 422 and unknown ids with 404, leaving the assistant as it was", async () => {
    const owner = await signUp("ast-patch-bad");
    const other = await signUp("ast-patch-bad-other");
    const foreign = await linkedDatabase(other.orgId);
    const assistant = await createAssistant(owner);
    expect(await fieldPaths(await patchAssistant(owner, assistant.id, { database_id: foreign }))).toEqual(["database_id"]);
    expect(await fieldPaths(await patchAssistant(owner, assistant.id, { timezone: "Nowhere" }))).toEqual(["timezone"]);
    expect(await fieldPaths(await patchAssistant(owner, assistant.id, { name: "A", receptionist_name: "B" }))).toEqual(["receptionist_name"]);
    const fetched = await expectJson<Assistant>(await call(`/v1/assistants/${assistant.id}`, { token: owner.access_token }), 200);
    expect(fetched).toEqual(assistant);
    for (const id of ["ast_01JD3X6W6X8Q3M1B0V4T2Y9ZZZ", "not-an-id", "ast_%00", "%E2%9C%93"]) {
      await expectProblem(await call(`/v1/assistants/${id}`, { token: owner.access_token }), 404);
      await expectProblem(await patchAssistant(owner, id, { name: "x" }), 404);
      await expectProblem(await call(`/v1/assistants/${id}`, { method: "DELETE", token: owner.access_token }), 404);
    }
  });

  it("archives with DELETE: 204, still readable, twice is fine, the agent is archived too, and status active brings both back", async () => {
    const owner = await signUp("ast-archive");
    const assistant = await createAssistant(owner);
    const remove = () => call(`/v1/assistants/${assistant.id}`, { method: "DELETE", token: owner.access_token });
    expect((await remove()).status).toBe(204);
    expect((await remove()).status).toBe(204);
    const fetched = await expectJson<Assistant>(await call(`/v1/assistants/${assistant.id}`, { token: owner.access_token }), 200);
    expect(fetched.status).toBe("archived");
    expect((await listAssistants(owner)).data).toEqual([]);
    const [agent] = await testCtx().db.select().from(agents).where(eq(agents.id, assistant.agent_id));
    expect(agent?.status).toBe("archived");
    const audit = await testCtx().db.select().from(auditEvents).where(eq(auditEvents.targetId, assistant.id));
    expect(audit.filter((a) => a.action === "assistant.archived")).toHaveLength(1);
    const back = await expectJson<Assistant>(await patchAssistant(owner, assistant.id, { status: "active" }), 200);
    expect(back.status).toBe("active");
    const [restored] = await testCtx().db.select().from(agents).where(eq(agents.id, assistant.agent_id));
    expect(restored?.status).toBe("active");
  });
});

describe("assistants of another organisation", () => {
  it("are invisible and untouchable", async () => {
    const a = await signUp("ast-iso-a");
    const b = await signUp("ast-iso-b");
    const assistant = await createAssistant(a, { ...MINIMAL, name: "A's receptionist" });
    await expectProblem(await call(`/v1/assistants/${assistant.id}`, { token: b.access_token }), 404);
    await expectProblem(await patchAssistant(b, assistant.id, { name: "mine now" }), 404);
    await expectProblem(await call(`/v1/assistants/${assistant.id}`, { method: "DELETE", token: b.access_token }), 404);
    expect((await listAssistants(b, "?q=receptionist")).data).toEqual([]);
    const [row] = await testCtx().db.select().from(assistants).where(eq(assistants.id, assistant.id));
    expect(row).toMatchObject({ name: "A's receptionist", status: "active" });
    const [agent] = await testCtx().db.select().from(agents).where(eq(agents.id, assistant.agent_id));
    expect(agent).toMatchObject({ name: "A's receptionist", status: "active" });
  });
});

describe("an assistant's free slots", () => {
  /** The UTC date `days` from today: well inside the horizon, and never today (notice) or the past. */
  function dayFromNow(days: number): string {
    return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
  }
  const everyDay = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => [day, [["09:00", "11:00"]]]));
  // India has no daylight saving time: 09:00 in Kolkata is 03:30 UTC on every date of the year.
  const kolkata = { ...MINIMAL, timezone: "Asia/Kolkata", weekly_hours: everyDay, slot_duration: 30, buffer_minutes: 0 };

  function slots(who: SignedUp, id: string, query: string): Promise<Response> {
    return call(`/v1/assistants/${id}/slots${query}`, { token: who.access_token, orgId: who.orgId });
  }

  it("lays a day's slots in the assistant's timezone with their UTC instants", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const date = dayFromNow(5);
    const day = await expectJson<{
      date: string;
      timezone: string;
      slots: string[];
      business_hours: string;
      slot_duration: number;
      times: { time: string; start: string; end: string }[];
    }>(await slots(owner, assistant.id, `?date=${date}`), 200);
    expect(day).toMatchObject({
      date,
      timezone: "Asia/Kolkata",
      slots: ["9:00 AM", "9:30 AM", "10:00 AM", "10:30 AM"],
      business_hours: "9:00 AM - 11:00 AM",
      slot_duration: 30,
    });
    expect(day.times[0]).toEqual({ time: "09:00", start: `${date}T03:30:00.000Z`, end: `${date}T04:00:00.000Z` });
    expect(day.times.at(-1)).toEqual({ time: "10:30", start: `${date}T05:00:00.000Z`, end: `${date}T05:30:00.000Z` });
  });

  it("offers nothing on a closed date, answers a range day by day, and defaults to today in the zone", async () => {
    const owner = await signUp();
    const closed = dayFromNow(3);
    const assistant = await createAssistant(owner, { ...kolkata, closed_dates: [closed] });
    const range = await expectJson<{ data: { date: string; slots: string[]; business_hours: string }[] }>(
      await slots(owner, assistant.id, `?from=${dayFromNow(2)}&to=${dayFromNow(4)}`),
      200,
    );
    expect(range.data.map((day) => day.date)).toEqual([dayFromNow(2), closed, dayFromNow(4)]);
    expect(range.data[1]).toMatchObject({ slots: [], business_hours: "Closed" });
    expect(range.data[0]?.slots).toHaveLength(4);
    const today = await expectJson<{ date: string }>(await slots(owner, assistant.id, ""), 200);
    const kolkataToday = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Kolkata", year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
    expect(today.date).toBe(kolkataToday);
  });

  it("refuses a range over 31 days, half a range, both forms at once and a day that does not exist with 422", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    for (const query of [
      `?from=${dayFromNow(1)}&to=${dayFromNow(32)}`,
      `?from=${dayFromNow(1)}`,
      `?date=${dayFromNow(1)}&from=${dayFromNow(1)}&to=${dayFromNow(2)}`,
      "?date=2026-02-30",
    ]) {
      await expectProblem(await slots(owner, assistant.id, query), 422);
    }
  });

  it("are another organisation's business: 404, and a viewer may read them", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const stranger = await signUp("stranger");
    await expectProblem(await slots(stranger, assistant.id, ""), 404);
    const viewer = await joinOrgAs(owner, "viewer");
    await expectJson(await slots({ ...viewer, orgId: owner.orgId }, assistant.id, ""), 200);
  });
});

describe("an assistant's bookings", () => {
  function dayFromNow(days: number): string {
    return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
  }
  const everyDay = Object.fromEntries(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map((day) => [day, [["09:00", "11:00"]]]));
  // Kolkata has no DST: 09:00 local is 03:30 UTC, 09:30 is 04:00 UTC, every day.
  const kolkata = { ...MINIMAL, timezone: "Asia/Kolkata", weekly_hours: everyDay, slot_duration: 30, buffer_minutes: 0 };

  interface BookingBody {
    id: string;
    assistant_id: string;
    start: string;
    end: string;
    slots: number;
    customer_name: string;
    source: string;
    status: string;
  }

  function book(who: SignedUp, id: string, body: Record<string, unknown>, key?: string): Promise<Response> {
    return call(`/v1/assistants/${id}/bookings`, { token: who.access_token, orgId: who.orgId, body, headers: key ? { "Idempotency-Key": key } : {} });
  }

  async function freeStarts(who: SignedUp, id: string, date: string): Promise<string[]> {
    const day = await expectJson<{ times: { start: string }[] }>(
      await call(`/v1/assistants/${id}/slots?date=${date}`, { token: who.access_token, orgId: who.orgId }),
      200,
    );
    return day.times.map((time) => time.start);
  }

  function rowsOf(assistantId: string) {
    return testCtx().db.select().from(bookings).where(eq(bookings.assistantId, assistantId));
  }

  it("books a free slot: 201, one confirmed row, and the slot leaves /slots", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const date = dayFromNow(5);
    const start = `${date}T03:30:00.000Z`;
    const booking = await expectJson<BookingBody>(await book(owner, assistant.id, { start, customer_name: "Asha Rao", phone: "+919812345678" }), 201);
    expect(booking).toMatchObject({
      assistant_id: assistant.id,
      start,
      end: `${date}T04:00:00.000Z`,
      slots: 1,
      customer_name: "Asha Rao",
      source: "api",
      status: "confirmed",
    });
    expect(booking.id).toMatch(/^bkg_/);
    const rows = await rowsOf(assistant.id);
    expect(rows.map((row) => [row.id, row.status])).toEqual([[booking.id, "confirmed"]]);
    expect(await freeStarts(owner, assistant.id, date)).not.toContain(start);
    expect(
      await expectJson(await call(`/v1/assistants/${assistant.id}/bookings/${booking.id}`, { token: owner.access_token, orgId: owner.orgId }), 200),
    ).toMatchObject({ id: booking.id });
    const list = await expectJson<Page<BookingBody>>(
      await call(`/v1/assistants/${assistant.id}/bookings?status=confirmed&start_date=${date}&end_date=${date}`, {
        token: owner.access_token,
        orgId: owner.orgId,
      }),
      200,
    );
    expect(list.data.map((item) => item.id)).toEqual([booking.id]);
    const other = await expectJson<Page<BookingBody>>(
      await call(`/v1/assistants/${assistant.id}/bookings?start_date=${dayFromNow(6)}`, { token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(other.data).toEqual([]);
  });

  it("lists today and the 7 days after by default, with every slot's state per day; other ranges on request", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const soon = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${dayFromNow(2)}T04:00:00.000Z`, customer_name: "Asha" }), 201);
    const later = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${dayFromNow(10)}T03:30:00.000Z`, customer_name: "Ravi" }), 201);
    const list = (query: string) => call(`/v1/assistants/${assistant.id}/bookings${query}`, { token: owner.access_token, orgId: owner.orgId });
    interface Schedule extends Page<BookingBody> {
      start_date: string;
      end_date: string;
      timezone: string;
      days: { date: string; day: string; business_hours: string; slots: { time: string; start: string; status: string; booking_id: string | null }[] }[];
    }
    const todayInKolkata = new Date(Date.now() + 330 * 60_000).toISOString().slice(0, 10);
    const week = await expectJson<Schedule>(await list(""), 200);
    expect(week).toMatchObject({ start_date: todayInKolkata, timezone: "Asia/Kolkata" });
    expect(week.days).toHaveLength(8);
    expect(week.days[0]?.date).toBe(todayInKolkata);
    expect(week.end_date).toBe(week.days[7]?.date);
    expect(week.data.map((b) => b.id)).toEqual([soon.id]);
    const bookedDay = week.days.find((d) => d.date === dayFromNow(2));
    expect(bookedDay?.business_hours).toBe("9:00 AM - 11:00 AM");
    expect(bookedDay?.slots.map((s) => [s.time, s.status, s.booking_id])).toEqual([
      ["09:00", "available", null],
      ["09:30", "booked", soon.id],
      ["10:00", "available", null],
      ["10:30", "available", null],
    ]);
    // The available slots of a day are the ones /slots offers.
    const offered = await expectJson<{ times: { start: string }[] }>(
      await call(`/v1/assistants/${assistant.id}/slots?date=${dayFromNow(2)}`, { token: owner.access_token, orgId: owner.orgId }),
      200,
    );
    expect(bookedDay?.slots.filter((s) => s.status === "available").map((s) => s.start)).toEqual(offered.times.map((t) => t.start));
    // A later range finds the other booking; a cancelled booking's slot is free again but the booking is still listed.
    await expectJson(
      await call(`/v1/assistants/${assistant.id}/bookings/${later.id}/cancel`, { token: owner.access_token, orgId: owner.orgId, body: {} }),
      200,
    );
    const far = await expectJson<Schedule>(await list(`?start_date=${dayFromNow(10)}&end_date=${dayFromNow(10)}`), 200);
    expect(far.data.map((b) => [b.id, b.status])).toEqual([[later.id, "cancelled"]]);
    expect(far.days.map((d) => d.slots[0]?.status)).toEqual(["available"]);
    const onlyEnd = await expectJson<Schedule>(await list(`?end_date=${dayFromNow(20)}`), 200);
    expect([onlyEnd.start_date, onlyEnd.days.length]).toEqual([dayFromNow(13), 8]);
    const tooLong = await expectProblem(await list(`?start_date=${dayFromNow(0)}&end_date=${dayFromNow(31)}`), 422);
    expect(tooLong.errors?.map((e) => e.path)).toEqual(["end_date"]);
    await expectProblem(await list(`?start_date=${dayFromNow(3)}&end_date=${dayFromNow(2)}`), 422);
  });

  it("refuses a start in the past, inside the notice, outside hours or on a closed date with 422 on start, writing nothing", async () => {
    const owner = await signUp();
    const closed = dayFromNow(4);
    const assistant = await createAssistant(owner, { ...kolkata, closed_dates: [closed] });
    const strict = await createAssistant(owner, { ...kolkata, name: "Strict", min_notice_minutes: 43200 });
    for (const [id, start, reason] of [
      [assistant.id, `${dayFromNow(-2)}T03:30:00.000Z`, "past"],
      [strict.id, `${dayFromNow(5)}T03:30:00.000Z`, "notice"],
      [assistant.id, `${dayFromNow(5)}T10:00:00.000Z`, "hours"],
      [assistant.id, `${closed}T03:30:00.000Z`, "closed"],
    ] as const) {
      const problem = await expectProblem(await book(owner, id, { start, customer_name: "Asha Rao" }), 422);
      expect(problem.errors?.[0]?.path, reason).toBe("start");
      expect((await rowsOf(id)).length).toBe(0);
    }
  });

  it("lets exactly one of 12 concurrent requests for one slot win; the others get 409", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const start = `${dayFromNow(6)}T04:00:00.000Z`;
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => book(owner, assistant.id, { start, customer_name: `Racer ${i}` }).then((response) => response.status)),
    );
    const statuses = results.map((result) => (result.status === "fulfilled" ? result.value : 0));
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(11);
    const rows = await rowsOf(assistant.id);
    expect(rows.filter((row) => row.status === "confirmed")).toHaveLength(1);
  });

  it("refuses a 2-slot booking overlapping a 1-slot booking with 409 naming it; cancelling frees the slot", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const date = dayFromNow(5);
    const single = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T04:00:00.000Z`, customer_name: "One" }), 201);
    const problem = await expectProblem(await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, slots: 2, customer_name: "Two" }), 409);
    expect(problem.detail).toContain(single.id);
    expect((await rowsOf(assistant.id)).length).toBe(1);
    const cancel = () => call(`/v1/assistants/${assistant.id}/bookings/${single.id}/cancel`, { method: "POST", token: owner.access_token, orgId: owner.orgId });
    expect(await expectJson<BookingBody>(await cancel(), 200)).toMatchObject({ id: single.id, status: "cancelled" });
    expect(await expectJson<BookingBody>(await cancel(), 200)).toMatchObject({ id: single.id, status: "cancelled" });
    expect(await freeStarts(owner, assistant.id, date)).toContain(`${date}T04:00:00.000Z`);
    await expectJson(await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, slots: 2, customer_name: "Two" }), 201);
  });

  it("replays an Idempotency-Key with the same booking and one row; a different body with the key is 409", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const start = `${dayFromNow(7)}T03:30:00.000Z`;
    const key = `bk-${newId("bkg")}`;
    const first = await expectJson<BookingBody>(await book(owner, assistant.id, { start, customer_name: "Asha Rao" }, key), 201);
    const again = await expectJson<BookingBody>(await book(owner, assistant.id, { start, customer_name: "Asha Rao" }, key), 201);
    expect(again.id).toBe(first.id);
    await expectProblem(await book(owner, assistant.id, { start, customer_name: "Someone Else" }, key), 409);
    expect((await rowsOf(assistant.id)).length).toBe(1);
  });

  it("reschedules in one step; the old slot comes back", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const date = dayFromNow(5);
    const booking = await expectJson<BookingBody>(await book(owner, assistant.id, { start: `${date}T03:30:00.000Z`, customer_name: "Mover" }), 201);
    const moved = await expectJson<BookingBody>(
      await call(`/v1/assistants/${assistant.id}/bookings/${booking.id}/reschedule`, {
        token: owner.access_token,
        orgId: owner.orgId,
        body: { start: `${date}T05:00:00.000Z` },
      }),
      200,
    );
    expect(moved).toMatchObject({ id: booking.id, start: `${date}T05:00:00.000Z`, end: `${date}T05:30:00.000Z` });
    const free = await freeStarts(owner, assistant.id, date);
    expect(free).toContain(`${date}T03:30:00.000Z`);
    expect(free).not.toContain(`${date}T05:00:00.000Z`);
  });

  it("is another organisation's business (404), a viewer cannot book (403), bad ids are 404 and NUL is 422", async () => {
    const owner = await signUp();
    const assistant = await createAssistant(owner, kolkata);
    const start = `${dayFromNow(5)}T03:30:00.000Z`;
    const booking = await expectJson<BookingBody>(await book(owner, assistant.id, { start, customer_name: "Asha Rao" }), 201);
    const stranger = await signUp("stranger");
    await expectProblem(await book(stranger, assistant.id, { start: `${dayFromNow(5)}T04:00:00.000Z`, customer_name: "X" }), 404);
    await expectProblem(await call(`/v1/assistants/${assistant.id}/bookings/${booking.id}`, { token: stranger.access_token, orgId: stranger.orgId }), 404);
    const viewer = { ...(await joinOrgAs(owner, "viewer")), orgId: owner.orgId };
    await expectProblem(await book(viewer, assistant.id, { start: `${dayFromNow(5)}T04:00:00.000Z`, customer_name: "X" }), 403);
    await expectJson(await call(`/v1/assistants/${assistant.id}/bookings`, { token: viewer.access_token, orgId: owner.orgId }), 200);
    await expectProblem(await call(`/v1/assistants/${assistant.id}/bookings/not-an-id`, { token: owner.access_token, orgId: owner.orgId }), 404);
    await expectProblem(
      await call(`/v1/assistants/${assistant.id}/bookings/bkg_x%00y/cancel`, { method: "POST", token: owner.access_token, orgId: owner.orgId }),
      404,
    );
    await expectProblem(await book(owner, assistant.id, { start: `${dayFromNow(5)}T04:00:00.000Z`, customer_name: "A\u0000B" }), 422);
    expect((await rowsOf(assistant.id)).length).toBe(1);
  });
});
