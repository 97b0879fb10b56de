import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { messages } from "../src/db/schema";
import { joinOrgAs, signUp } from "./harness/api";
import { fakeResend, messageRow } from "./harness/fakes";
import { testCtx } from "./harness/helpers";

async function welcomesOf(userId: string) {
  return testCtx()
    .db.select()
    .from(messages)
    .where(and(eq(messages.entityType, "user"), eq(messages.entityId, userId)));
}

describe("welcome messages", () => {
  it("welcome a member who accepted an invitation, naming the organisation they joined", async () => {
    const owner = await signUp("welcome-owner");
    const member = await joinOrgAs(owner, "member", "welcome-member");

    const joined = (await welcomesOf(member.user.id)).filter((m) => m.orgId === owner.orgId);
    expect(joined).toHaveLength(1);
    expect(joined[0]?.subject).toBe("Welcome to Test welcome-owner's organisation on Billx");
    expect(joined[0]?.body).toContain("you are now a member of Test welcome-owner's organisation");
    await expect.poll(async () => (await messageRow(joined[0]?.id ?? ""))?.status, { timeout: 10_000, interval: 200 }).toBe("sent");
    expect((await fakeResend.emails(member.user.email)).map((m) => m.subject)).toContain(joined[0]?.subject);
  });
});
