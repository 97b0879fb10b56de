/** The TwiML that hands a live call to a person: Twilio dials the number once the stream has ended. */
import { E164 } from "../../../lib/phone";

export function dialTwiml(number: string): string {
  // The assistant's schema only stores E.164; checked again because this goes into XML as is.
  if (!E164.test(number)) throw new Error("the transfer number is not E.164");
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Dial>${number}</Dial></Response>`;
}
