import { z } from "@hono/zod-openapi";
import { SALES_CONVERSATION_MODES } from "../../../db/schema";
import { CONVERSATION_ID_EXAMPLE, CONVERSATION_ID_PATTERN, ContactId, MAX_MESSAGE_CHARS, typedText } from "../conversations/schemas";
import { STAGES } from "../flows/rules";

export const MAX_HISTORY_MESSAGES = 50;

const Message = typedText(MAX_MESSAGE_CHARS, `What the contact says, up to ${MAX_MESSAGE_CHARS} characters`, "Hi! How much are the arabica beans?");

export const TurnMessageBody = z.object({ message: Message }).openapi("SalesTurnMessageRequest");

export const ChatTurnBody = z
  .object({
    message: Message,
    conversation_id: z
      .string()
      .regex(CONVERSATION_ID_PATTERN, "Not a conversation id")
      .optional()
      .openapi({ description: "Continue this conversation; a new one starts without it", example: CONVERSATION_ID_EXAMPLE }),
    contact_id: ContactId.optional().openapi({ description: "Who is chatting; a new visitor id (vis_...) when left out of a new conversation" }),
    history: z
      .array(
        z.object({
          role: z.enum(["user", "assistant"]).openapi({ description: "Who said it", example: "user" }),
          content: typedText(MAX_MESSAGE_CHARS, "What was said", "Hello"),
        }),
      )
      .max(MAX_HISTORY_MESSAGES)
      .optional()
      .openapi({ description: "Earlier messages the client kept itself; only for a turn that starts a conversation" }),
  })
  .superRefine((body, ctx) => {
    if (body.conversation_id && body.history?.length) {
      ctx.addIssue({ code: "custom", path: ["history"], message: "history only starts a conversation; the conversation already has its own" });
    }
  })
  .openapi("SalesChatTurnRequest");

export const Usage = z
  .object({
    input_tokens: z.number().int().openapi({ description: "Prompt tokens of every model call of the turn", example: 812 }),
    output_tokens: z.number().int().openapi({ description: "Completion tokens of every model call of the turn", example: 96 }),
  })
  .openapi("SalesUsage");

export const Cost = z
  .object({
    credits: z.number().int().openapi({ description: "Credits charged", example: 3 }),
    usd: z.string().openapi({ description: "What the calls cost at the price map, in US dollars", example: "0.000180" }),
  })
  .openapi("SalesCost");

export const ChatTurnResult = z
  .object({
    reply: z
      .string()
      .nullable()
      .openapi({ description: "The bot's reply; null while staff have taken the conversation over", example: "Hello! Welcome to our shop." }),
    stage: z.enum(STAGES).openapi({ description: "The stage the conversation is in after this turn", example: "greeting" }),
    conversation_id: z.string().openapi({ description: "The conversation", example: CONVERSATION_ID_EXAMPLE }),
    contact_id: z.string().openapi({ description: "Who is chatting", example: "vis_01JD3X6W6X8Q3M1B0V4T2Y9ZKC" }),
    mode: z.enum(SALES_CONVERSATION_MODES).openapi({ description: "`human` while staff have taken over", example: "bot" }),
    attachment: z.string().nullable().openapi({ description: "The stage's image to show with the reply, or null", example: null }),
    usage: Usage,
    cost: Cost,
  })
  .openapi("SalesChatTurn");

export type ChatTurnInput = z.infer<typeof ChatTurnBody>;
