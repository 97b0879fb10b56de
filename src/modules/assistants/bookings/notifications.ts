import type { ServiceCtx } from "../../../lib/context";
import { AppError } from "../../../lib/errors";
import { sendMessage } from "../../messaging/outbound/service";

/** What happened to a booking that its customer is told about. */
export type BookingEvent = "confirmed" | "moved" | "cancelled" | "reminder";

/** The channel a booking request asks its messages to go by; `none` sends nothing. */
export type BookingNotify = "sms" | "whatsapp" | "email" | "none";

/** The fields of a booking (or a claimed reminder row) a message needs. */
export interface NotifiableBooking {
  id: string;
  /** UTC ISO instant the booking starts. */
  start: string;
  phone: string | null;
  email: string | null;
}

/** The fields of an assistant a message needs. */
export interface NotifyingAssistant {
  business_name: string;
  timezone: string;
}

/**
 * The booking's start as the customer reads it: local to the assistant's zone, with the zone's
 * abbreviation, since a customer booking by phone from elsewhere must know whose clock it is.
 */
export function localStart(startIso: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-US", {
    timeZone,
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
  }).format(new Date(startIso));
}

function messageText(event: BookingEvent, business: string, when: string, id: string): { subject: string; body: string } {
  switch (event) {
    case "confirmed":
      return { subject: `Booking confirmed: ${business}`, body: `${business}: your booking on ${when} is confirmed. Booking ${id}.` };
    case "moved":
      return { subject: `Booking moved: ${business}`, body: `${business}: your booking has moved to ${when}. Booking ${id}.` };
    case "cancelled":
      return { subject: `Booking cancelled: ${business}`, body: `${business}: your booking on ${when} is cancelled. Booking ${id}.` };
    case "reminder":
      return { subject: `Reminder: your booking with ${business}`, body: `${business}: a reminder of your booking on ${when}. Booking ${id}.` };
  }
}

/** Where a message goes: the asked channel if the booking has that kind of address, else SMS to a phone, else email. */
export function bookingChannel(booking: NotifiableBooking, notify?: BookingNotify): { channel: "sms" | "whatsapp" | "email"; recipient: string } | null {
  if (notify === "none") return null;
  if (notify === "sms" || notify === "whatsapp") return booking.phone ? { channel: notify, recipient: booking.phone } : null;
  if (notify === "email") return booking.email ? { channel: "email", recipient: booking.email } : null;
  if (booking.phone) return { channel: "sms", recipient: booking.phone };
  if (booking.email) return { channel: "email", recipient: booking.email };
  return null;
}

/**
 * One idempotency key per thing the customer is told: a move names its new start so a second
 * move sends again, and a reminder names the start it reminds of so a rescheduled booking is
 * reminded of its new time.
 */
function idempotencyKey(event: BookingEvent, booking: NotifiableBooking): string {
  if (event === "moved" || event === "reminder") return `booking-${event}:${booking.id}:${booking.start}`;
  return `booking-${event}:${booking.id}`;
}

/**
 * Queues the message telling the customer about `event`. Throws what `sendMessage` throws; the
 * callers that must not fail on it use `notifyBooking`. Answers false when there is nowhere to send.
 */
export async function sendBookingMessage(
  ctx: ServiceCtx,
  orgId: string,
  booking: NotifiableBooking,
  assistant: NotifyingAssistant,
  event: BookingEvent,
  notify?: BookingNotify,
): Promise<boolean> {
  const target = bookingChannel(booking, notify);
  if (!target) return false;
  const text = messageText(event, assistant.business_name, localStart(booking.start, assistant.timezone), booking.id);
  await sendMessage(ctx, {
    orgId,
    channel: target.channel,
    recipient: target.recipient,
    subject: target.channel === "email" ? text.subject : undefined,
    body: text.body,
    idempotencyKey: idempotencyKey(event, booking),
    entity: { type: "booking", id: booking.id },
  });
  return true;
}

/**
 * Tells the customer their booking was confirmed, moved or cancelled. A message that cannot be
 * sent (a recipient the channel refuses, the queue down) is logged and never undoes or fails the
 * booking: the booking is what the customer asked for, the message only a courtesy.
 */
export async function notifyBooking(
  ctx: ServiceCtx,
  orgId: string,
  booking: NotifiableBooking,
  assistant: NotifyingAssistant,
  event: Exclude<BookingEvent, "reminder">,
  notify?: BookingNotify,
): Promise<void> {
  try {
    await sendBookingMessage(ctx, orgId, booking, assistant, event, notify);
  } catch (error) {
    // The booking id only: the recipient and the text are the customer's personal data.
    ctx.log.warn("booking message not sent", { booking_id: booking.id, event, reason: failureReason(error) });
  }
}

/** A failure's kind without its message, which may quote the recipient. */
export function failureReason(error: unknown): string {
  if (error instanceof AppError) return `${error.status} ${error.title}`;
  return error instanceof Error ? error.name : "unknown";
}
