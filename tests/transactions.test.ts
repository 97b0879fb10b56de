import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { withTransaction } from "../src/db/client";
import { organizations } from "../src/db/schema";
import { newId } from "../src/lib/ids";
import { testCtx } from "./harness/helpers";

describe("withTransaction (Neon Pool over WebSocket)", () => {
  it("commits every statement together", async () => {
    const ctx = testCtx();
    const a = newId("org");
    const b = newId("org");
    await withTransaction(ctx, async (tx) => {
      await tx.insert(organizations).values({ id: a, name: "A" });
      await tx.insert(organizations).values({ id: b, name: "B" });
    });
    const rows = await ctx.db.select({ id: organizations.id }).from(organizations);
    expect(rows.map((r) => r.id)).toEqual(expect.arrayContaining([a, b]));
  });

  it("rolls everything back when the function throws", async () => {
    const ctx = testCtx();
    const id = newId("org");
    await expect(
      withTransaction(ctx, async (tx) => {
        await tx.insert(organizations).values({ id, name: "doomed" });
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await ctx.db.select().from(organizations).where(eq(organizations.id, id))).toEqual([]);
  });

  it("reuses an open transaction instead of nesting a new connection", async () => {
    const ctx = testCtx();
    const id = newId("org");
    await expect(
      withTransaction(ctx, async (tx) => {
        await withTransaction({ ...ctx, db: tx }, async (inner) => {
          expect(inner).toBe(tx);
          await inner.insert(organizations).values({ id, name: "inner" });
        });
        throw new Error("outer fails");
      }),
    ).rejects.toThrow("outer fails");
    expect(await ctx.db.select().from(organizations).where(eq(organizations.id, id))).toEqual([]);
  });

  it("serialises racing updates of one row with SELECT ... FOR UPDATE", async () => {
    const ctx = testCtx();
    const id = newId("org");
    await ctx.db.insert(organizations).values({ id, name: "0" });
    const increment = () =>
      withTransaction(ctx, async (tx) => {
        const [row] = await tx.select().from(organizations).where(eq(organizations.id, id)).for("update");
        await tx
          .update(organizations)
          .set({ name: String(Number(row?.name) + 1) })
          .where(eq(organizations.id, id));
      });
    await Promise.all(Array.from({ length: 8 }, increment));
    const [row] = await ctx.db.select().from(organizations).where(eq(organizations.id, id));
    expect(row?.name).toBe("8");
  });
});
