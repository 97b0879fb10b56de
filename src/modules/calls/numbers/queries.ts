import { and, asc, eq, inArray } from "drizzle-orm";
import type { Database } from "../../../db/client";
import { phoneNumbers } from "../../../db/schema";

/**
 * The numbers of each of `assistantIds` (E.164, oldest first), for the assistant's read-only
 * `phone_numbers`. A query module of its own, so the assistants service can read it without an
 * import cycle with the numbers service (which looks assistants up).
 */
export async function numbersByAssistant(db: Database, orgId: string, assistantIds: string[]): Promise<Map<string, string[]>> {
  const byAssistant = new Map<string, string[]>(assistantIds.map((id) => [id, []]));
  if (assistantIds.length === 0) return byAssistant;
  const rows = await db
    .select({ assistantId: phoneNumbers.assistantId, phoneNumber: phoneNumbers.phoneNumber })
    .from(phoneNumbers)
    .where(and(eq(phoneNumbers.orgId, orgId), inArray(phoneNumbers.assistantId, assistantIds)))
    .orderBy(asc(phoneNumbers.id));
  for (const row of rows) byAssistant.get(row.assistantId)?.push(row.phoneNumber);
  return byAssistant;
}
