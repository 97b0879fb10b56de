import type { ServiceCtx } from "../../../lib/context";
import { type ChatParams, type ChatResult, llmProvider } from "../../../providers/llm";
import { providerProblem } from "../../content/ai/metered-chat";
import { type AgentModel, agentModel, recordModelCall, type SalesAgent } from "../settings/service";

/**
 * What a turn's model calls used and cost, summed; the response's `usage` and `cost`. A call's
 * charge is written while the turn goes on (the reply need not wait for the planner's row);
 * `settle` waits for every charge and must come before `cost` is read.
 */
export class TurnMeter {
  inputTokens = 0;
  outputTokens = 0;
  credits = 0;
  private microUsd = 0;
  private readonly charges: Promise<void>[] = [];

  track(usage: { inputTokens: number; outputTokens: number }, charge: Promise<{ credits: number; cost_usd: string }>): void {
    this.inputTokens += usage.inputTokens;
    this.outputTokens += usage.outputTokens;
    const added = charge.then((recorded) => {
      this.credits += recorded.credits;
      // Dollars come as decimal strings with six places: summed as whole micro-dollars, never floats.
      this.microUsd += Math.round(Number(recorded.cost_usd) * 1_000_000);
    });
    // Observed at once so a failure waits for `settle` instead of surfacing as unhandled.
    added.catch(() => {});
    this.charges.push(added);
  }

  /** Every charge written; the first failure, if any, is thrown once all have ended. */
  async settle(): Promise<void> {
    const outcomes = await Promise.allSettled(this.charges);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed) throw failed.reason;
  }

  usage() {
    return { input_tokens: this.inputTokens, output_tokens: this.outputTokens };
  }

  cost() {
    return { credits: this.credits, usd: (this.microUsd / 1_000_000).toFixed(6) };
  }
}

/** Who a model call is for: the organisation, the conversation and contact it is charged to, and the turn's meter. */
export interface AgentCaller {
  orgId: string;
  conversationId: string | null;
  contactId: string | null;
  meter: TurnMeter;
  /** Aborted when the client went away: the model call stops. */
  signal?: AbortSignal;
  /** Each agent's provider and model, read once for the turn; an agent left out is read when it is called. */
  models?: ReadonlyMap<SalesAgent, AgentModel>;
}

/** The provider and model of each of `agents`, read in parallel. */
export async function agentModels(ctx: ServiceCtx, orgId: string, agents: readonly SalesAgent[]): Promise<Map<SalesAgent, AgentModel>> {
  const models = await Promise.all(agents.map((agent) => agentModel(ctx, orgId, agent)));
  return new Map(agents.map((agent, i) => [agent, models[i] as AgentModel]));
}

/**
 * One model call of a sales agent: the provider and model the organisation's admin chose for it,
 * recorded and charged (`recordModelCall`) as soon as it has answered, whatever the turn does next
 * (the charge is written alongside the rest of the turn: `caller.meter.settle()` waits for it).
 * With `onDelta` the answer is streamed and each text delta passed on as it arrives. Provider
 * failures become the problems the AI routes answer with (502, 503, 504).
 */
export async function callAgent(
  ctx: ServiceCtx,
  caller: AgentCaller,
  agent: SalesAgent,
  params: Omit<ChatParams, "model">,
  onDelta?: (text: string) => void,
): Promise<ChatResult> {
  const { provider, model } = caller.models?.get(agent) ?? (await agentModel(ctx, caller.orgId, agent));
  const llm = llmProvider(ctx.config, provider);
  let result: ChatResult | undefined;
  try {
    if (onDelta) {
      for await (const event of llm.chatStream({ ...params, model }, { signal: caller.signal })) {
        if (event.type === "text") onDelta(event.text);
        else result = event.result;
      }
    } else {
      result = await llm.chat({ ...params, model }, { signal: caller.signal });
    }
  } catch (error) {
    throw providerProblem(error);
  }
  if (!result) throw new Error("the model stream ended without a result");
  const charge = recordModelCall(ctx, {
    orgId: caller.orgId,
    conversationId: caller.conversationId,
    contactId: caller.contactId,
    agent,
    provider,
    model,
    usage: result.usage,
  });
  caller.meter.track(result.usage, charge);
  return result;
}
