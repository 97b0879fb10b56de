import type { MESSAGE_CHANNELS, messages } from "../../../db/schema";

// The shapes every part of outbound messaging speaks in, apart from the code that uses them, so
// that ./service can import ./recipients (and the rest) without their importing ./service back.

export type MessageChannel = (typeof MESSAGE_CHANNELS)[number];
export type MessageRow = typeof messages.$inferSelect;
