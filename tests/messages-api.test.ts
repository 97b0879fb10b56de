import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { memberships, messages } from "../src/db/schema";
import { call, signUp } from "./harness/api";
import { expectProblem, testCtx } from "./harness/helpers";

interface MessageBody {
  id: string;
  status: string;
  channel: string;
  to: string;
  body: string | null;
}

describe("POST /v1/messages", () => {
  it("queues a message in the caller's organisation and shows it in the log", async () => {
    const owner = await signUp("sender");
    const response = await call("/v1/messages", { token: owner.access_token, body: { channel: "sms", to: "+14155550123", body: "Your bill is ready" } });
    expect(response.status).toBe(201);
    const message = (await response.json()) as MessageBody;
    expect(message).toMatchObject({ id: expect.stringMatching(/^msg_/), channel: "sms", to: "+14155550123", body: "Your bill is ready" });
    expect(["queued", "sending", "sent", "failed"]).toContain(message.status);
    const [row] = await testCtx().db.select().from(messages).where(eq(messages.id, message.id));
    expect(row?.orgId).toBe(owner.orgId);

    const fetched = (await (await call(`/v1/messages/${message.id}`, { token: owner.access_token })).json()) as MessageBody;
    expect(fetched.id).toBe(message.id);
  });

  it("refuses a bad phone number or email with 422 and queues nothing", async () => {
    const owner = await signUp("bad-recipient");
    const phone = await call("/v1/messages", { token: owner.access_token, body: { channel: "whatsapp", to: "0800 BILLX", body: "hi" } });
    expect((await expectProblem(phone, 422)).errors).toEqual([{ path: "recipient", message: "must be a phone number in E.164 form, e.g. +14155550100" }]);
    const email = await call("/v1/messages", { token: owner.access_token, body: { channel: "email", to: "not-an-address", body: "hi" } });
    await expectProblem(email, 422);
    const noBody = await call("/v1/messages", { token: owner.access_token, body: { channel: "email", to: "a@example.com" } });
    expect((await expectProblem(noBody, 422)).errors?.[0]?.path).toBe("body");
    expect(await testCtx().db.select().from(messages).where(eq(messages.orgId, owner.orgId))).toEqual([]);
  });

  it("answers a repeated Idempotency-Key with the first message, even when racing", async () => {
    const owner = await signUp("idempotent");
    const send = () =>
      call("/v1/messages", {
        token: owner.access_token,
        headers: { "Idempotency-Key": "reminder-42" },
        body: { channel: "email", to: "ada@example.com", subject: "Reminder", body: "Bill 42 is due" },
      });
    const responses = await Promise.all([send(), send(), send()]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    const ids = await Promise.all(responses.map(async (r) => ((await r.json()) as MessageBody).id));
    expect(new Set(ids).size).toBe(1);
    expect(await testCtx().db.select().from(messages).where(eq(messages.orgId, owner.orgId))).toHaveLength(1);
  });

  it("refuses an Idempotency-Key reused for a different message with 409", async () => {
    const owner = await signUp("idem-conflict");
    const headers = { "Idempotency-Key": "k-1" };
    expect((await call("/v1/messages", { token: owner.access_token, headers, body: { channel: "sms", to: "+14155550124", body: "one" } })).status).toBe(201);
    await expectProblem(await call("/v1/messages", { token: owner.access_token, headers, body: { channel: "sms", to: "+14155550124", body: "two" } }), 409);
  });

  it("needs messages:send: a viewer gets 403 and nothing is queued, but may read the log", async () => {
    const owner = await signUp("owner-msg");
    const viewer = await signUp("viewer-msg");
    await testCtx().db.insert(memberships).values({ orgId: owner.orgId, userId: viewer.user.id, role: "viewer" });
    await expectProblem(
      await call("/v1/messages", { token: viewer.access_token, orgId: owner.orgId, body: { channel: "sms", to: "+14155550125", body: "x" } }),
      403,
    );
    expect(await testCtx().db.select().from(messages).where(eq(messages.orgId, owner.orgId))).toEqual([]);
    expect((await call("/v1/messages", { token: viewer.access_token, orgId: owner.orgId })).status).toBe(200);
  });
});

describe("GET /v1/messages", () => {
  it("lists newest first, filters by channel and status, and pages with a cursor", async () => {
    const owner = await signUp("lister");
    for (const [channel, to] of [
      ["sms", "+14155550126"],
      ["email", "b@example.com"],
      ["sms", "+14155550127"],
    ] as const) {
      expect((await call("/v1/messages", { token: owner.access_token, body: { channel, to, body: `to ${to}` } })).status).toBe(201);
    }
    const all = (await (await call("/v1/messages", { token: owner.access_token })).json()) as { data: MessageBody[]; next_cursor: string | null };
    expect(all.data.map((m) => m.to)).toEqual(["+14155550127", "b@example.com", "+14155550126"]);

    const sms = (await (await call("/v1/messages?channel=sms&limit=1", { token: owner.access_token })).json()) as { data: MessageBody[]; next_cursor: string };
    expect(sms.data.map((m) => m.to)).toEqual(["+14155550127"]);
    const next = (await (await call(`/v1/messages?channel=sms&limit=1&cursor=${sms.next_cursor}`, { token: owner.access_token })).json()) as {
      data: MessageBody[];
      next_cursor: string | null;
    };
    expect(next.data.map((m) => m.to)).toEqual(["+14155550126"]);
    expect(next.next_cursor).toBeNull();

    await expectProblem(await call("/v1/messages?status=lost", { token: owner.access_token }), 422);
  });

  it("hides another organisation's message behind a 404", async () => {
    const a = await signUp("org-a-msg");
    const b = await signUp("org-b-msg");
    const sent = (await (
      await call("/v1/messages", { token: a.access_token, body: { channel: "sms", to: "+14155550128", body: "secret" } })
    ).json()) as MessageBody;
    await expectProblem(await call(`/v1/messages/${sent.id}`, { token: b.access_token }), 404);
  });
});
