import type { BillDocument } from "./document";
import { formatMoney } from "./format";

/** What a message says about the bill. */
export type BillMessageFacts = Pick<BillDocument, "orgName" | "number" | "currency" | "total" | "balanceDue" | "dueDate">;

export interface BillMessageText {
  subject: string;
  body: string;
}

/**
 * The words of a bill message: who it is from, the bill number, total and balance due in the
 * bill's currency, and the link. The link sits on a line of its own so every SMS app and mail
 * client makes it clickable.
 */
export function billMessageText(bill: BillMessageFacts, url: string, kind: "bill" | "reminder"): BillMessageText {
  const number = bill.number ?? "your bill";
  const total = formatMoney(bill.total, bill.currency);
  const due = formatMoney(bill.balanceDue, bill.currency);
  if (kind === "reminder") {
    return {
      subject: `Reminder: ${number} from ${bill.orgName} is overdue`,
      body: [
        `${bill.orgName}: a reminder that bill ${number}${bill.dueDate ? `, due ${bill.dueDate},` : ""} is overdue.`,
        `Total ${total}, balance due ${due}.`,
        "View or download it:",
        url,
      ].join("\n"),
    };
  }
  return {
    subject: `Bill ${number} from ${bill.orgName}`,
    body: [`${bill.orgName}: bill ${number}.`, `Total ${total}, balance due ${due}.`, "View or download it:", url].join("\n"),
  };
}

/** The bill link in a message this module wrote, or null. */
export function linkInMessage(body: string | null): string | null {
  return /^https?:\/\/\S+\/b\/[\w-]+\.[\w-]+\.[\w-]+$/m.exec(body ?? "")?.[0] ?? null;
}
