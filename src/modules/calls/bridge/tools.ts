/**
 * Tool calls the model makes during a call, run against our services through a narrow host (the
 * CallSession implements it with a ServiceCtx for the call's organisation). Each answer goes back
 * to the model as a JSON string; a refusal (no such slot, slot taken) is an answer the model can
 * speak, never an exception that ends the call.
 */
import { AppError } from "../../../lib/errors";
import type { CallToolName } from "./session-config";

export interface CallToolHost {
  checkAvailability(input: { date?: string }): Promise<unknown>;
  bookAppointment(input: { start: string; customer_name: string; details?: string }): Promise<unknown>;
  /** Cancels the caller's booking, by id or by start; not the caller's (or none) is an answer, not an error. */
  cancelBooking(input: { booking_id?: string; start?: string }): Promise<unknown>;
  searchKnowledge(input: { query: string }): Promise<unknown>;
  askDatabase(input: { question: string }): Promise<unknown>;
}

export interface ToolResult {
  /** What goes back to the model as `function_call_output`. */
  output: string;
  ok: boolean;
}

type Args = Record<string, unknown>;
const str = (args: Args, key: string): string | undefined => (typeof args[key] === "string" && args[key] !== "" ? (args[key] as string) : undefined);

/** Runs the tool `name` with the model's JSON `argumentsJson`; end_call is the bridge's own and is not run here. */
export async function runCallTool(host: CallToolHost, name: string, argumentsJson: string): Promise<ToolResult> {
  let args: Args;
  try {
    const parsed = JSON.parse(argumentsJson || "{}") as unknown;
    args = parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Args) : {};
  } catch {
    return refuse("The arguments were not valid JSON.");
  }
  try {
    switch (name as CallToolName) {
      case "check_availability":
        return answer(await host.checkAvailability({ date: str(args, "date") }));
      case "book_appointment": {
        const start = str(args, "start");
        const customerName = str(args, "customer_name");
        if (!start || !customerName) return refuse("start and customer_name are required.");
        return answer({ booked: true, booking: await host.bookAppointment({ start, customer_name: customerName, details: str(args, "details") }) });
      }
      case "cancel_booking": {
        const bookingId = str(args, "booking_id");
        const start = str(args, "start");
        if (!bookingId && !start) return refuse("booking_id or start is required.");
        return answer(await host.cancelBooking({ booking_id: bookingId, start }));
      }
      case "search_knowledge": {
        const query = str(args, "query");
        return query ? answer(await host.searchKnowledge({ query })) : refuse("query is required.");
      }
      case "ask_database": {
        const question = str(args, "question");
        return question ? answer(await host.askDatabase({ question })) : refuse("question is required.");
      }
      default:
        return refuse(`There is no tool ${name}.`);
    }
  } catch (error) {
    // Our services' refusals (409 slot taken, 422 outside hours, 402 no credits) are said to the caller.
    if (error instanceof AppError) return refuse(error.detail ?? error.title);
    throw error;
  }
}

function answer(value: unknown): ToolResult {
  return { ok: true, output: JSON.stringify(value) };
}

function refuse(message: string): ToolResult {
  return { ok: false, output: JSON.stringify({ error: message }) };
}
