/**
 * The stage machine's rules, pure and dependency-free: the planner proposes, these decide.
 *
 * - Stages are the seven known ones; a flow uses them in this order and may leave some out, but
 *   never greeting (where every conversation starts), closing or farewell.
 * - No promo before consultation: promo is refused until consultation has been visited.
 * - No skipping closing: farewell only from closing. The one exception is a visitor who is
 *   leaving (the planner says so with `user_leaving`): the bot may say goodbye from any stage
 *   rather than push a closing at someone walking away.
 * - Farewell is final: nothing leaves it.
 * - A refused proposal keeps the conversation where it is; so does a planner that gave no valid answer.
 * - A conversation in a stage its flow no longer has may move to any stage of the flow (the rules
 *   above still apply), so editing the flow never strands a conversation.
 */

export const STAGES = ["greeting", "opening", "consultation", "testimony", "promo", "closing", "farewell"] as const;
export type StageName = (typeof STAGES)[number];

export interface FlowStage {
  name: StageName;
  goal: string;
  /** Instructions for the reply agent in this stage; null follows the admin prompt `stage.<name>`. */
  prompt: string | null;
  /** Stages this one may move to (staying is always allowed). */
  next: StageName[];
  /** An R2 key or URL of an image sent with this stage's reply (a testimony photo), or null. */
  attachment: string | null;
}

export interface StageProblem {
  path: string;
  message: string;
}

export function isStageName(value: unknown): value is StageName {
  return typeof value === "string" && (STAGES as readonly string[]).includes(value);
}

const REQUIRED: StageName[] = ["greeting", "closing", "farewell"];

/** Every way `stages` breaks the graph rules, with a field path per problem; empty when it is a valid flow. */
export function flowProblems(stages: readonly { name: string; next: readonly string[] }[]): StageProblem[] {
  const problems: StageProblem[] = [];
  const names = stages.map((s) => s.name);
  const seen = new Set<string>();
  stages.forEach((stage, i) => {
    if (!isStageName(stage.name)) problems.push({ path: `stages.${i}.name`, message: `Unknown stage "${stage.name}"; stages are ${STAGES.join(", ")}` });
    else if (seen.has(stage.name)) problems.push({ path: `stages.${i}.name`, message: `Stage ${stage.name} appears twice` });
    seen.add(stage.name);
  });
  for (const name of REQUIRED) {
    if (!names.includes(name)) problems.push({ path: "stages", message: `A flow needs the ${name} stage` });
  }
  if (names.length > 0 && names[0] !== "greeting") problems.push({ path: "stages.0.name", message: "A flow starts with greeting" });
  const order = names.filter(isStageName).map((n) => STAGES.indexOf(n));
  if (order.some((position, i) => i > 0 && position < (order[i - 1] as number))) {
    problems.push({ path: "stages", message: `Stages are listed in the order ${STAGES.join(", ")}` });
  }
  stages.forEach((stage, i) => {
    stage.next.forEach((target, j) => {
      const path = `stages.${i}.next.${j}`;
      if (!names.includes(target)) problems.push({ path, message: `"${target}" is not a stage of this flow` });
      else if (target === stage.name) problems.push({ path, message: "Staying in a stage is always allowed; list only other stages" });
      else if (target === "farewell" && stage.name !== "closing") problems.push({ path, message: "Only closing leads to farewell (no skipping closing)" });
      else if (target === "promo" && STAGES.indexOf(stage.name as StageName) < STAGES.indexOf("consultation")) {
        problems.push({ path, message: "No promo before consultation" });
      }
    });
    if (stage.name === "farewell" && stage.next.length > 0) problems.push({ path: `stages.${i}.next`, message: "Farewell is final: it leads nowhere" });
    if (stage.name !== "farewell" && stage.next.length === 0 && isStageName(stage.name)) {
      problems.push({ path: `stages.${i}.next`, message: `${stage.name} must lead somewhere` });
    }
  });
  if (problems.length === 0 && !reaches(stages, "greeting", "farewell")) {
    problems.push({ path: "stages", message: "Farewell cannot be reached from greeting" });
  }
  return problems;
}

function reaches(stages: readonly { name: string; next: readonly string[] }[], from: string, to: string): boolean {
  const edges = new Map(stages.map((s) => [s.name, s.next]));
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length > 0) {
    const at = queue.shift() as string;
    if (at === to) return true;
    for (const next of edges.get(at) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return false;
}

export interface StageState {
  stage: StageName;
  /** Stages this conversation has been in, the current one included. */
  visited: StageName[];
}

export interface Proposal {
  /** The planner's next stage; null when it gave no valid answer. */
  next: string | null;
  userLeaving: boolean;
}

export interface StageDecision {
  stage: StageName;
  /** Why the proposal was refused; absent when it was followed. */
  refusal?: { proposed: string | null; reason: string };
}

/** The stage after this turn: the planner's proposal when the rules allow it, else the current stage. */
export function decideStage(flow: readonly FlowStage[], state: StageState, proposal: Proposal): StageDecision {
  const stay = (reason: string): StageDecision => ({ stage: state.stage, refusal: { proposed: proposal.next, reason } });
  const target = proposal.next;
  if (target === null) return stay("the planner gave no valid answer");
  if (target === state.stage) return { stage: state.stage };
  if (state.stage === "farewell") return stay("farewell is final");
  const current = flow.find((s) => s.name === state.stage);
  if (!isStageName(target) || !flow.some((s) => s.name === target)) return stay(`"${target}" is not a stage of this flow`);
  if (target === "farewell" && proposal.userLeaving) return { stage: "farewell" };
  if (target === "farewell" && state.stage !== "closing") return stay("no skipping closing: farewell only from closing");
  if (target === "promo" && !state.visited.includes("consultation")) return stay("no promo before consultation");
  // A stage the flow has since left out leads anywhere in the flow: the conversation must not be stuck there.
  if (current && !current.next.includes(target)) return stay(`${state.stage} does not lead to ${target}`);
  return { stage: target };
}

/** The state after moving to `stage`. */
export function enterStage(state: StageState, stage: StageName): StageState {
  return { stage, visited: state.visited.includes(stage) ? state.visited : [...state.visited, stage] };
}
