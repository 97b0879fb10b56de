import type { FlowStage } from "./rules";

/**
 * The flow every organisation starts with: the seven stages in order, each leading to the next
 * (consultation, testimony, promo and closing also back to consultation). Prompts are null: the
 * reply agent then follows the admin prompt `stage.<name>` (versioned in the settings module).
 */
export const DEFAULT_FLOW: FlowStage[] = [
  {
    name: "greeting",
    goal: "Welcome the visitor warmly and find out what brought them here",
    prompt: null,
    next: ["opening"],
    attachment: null,
  },
  {
    name: "opening",
    goal: "Build rapport and learn the visitor's situation",
    prompt: null,
    next: ["consultation"],
    attachment: null,
  },
  {
    name: "consultation",
    goal: "Understand the need and match it to the right product",
    prompt: null,
    next: ["testimony", "promo", "closing"],
    attachment: null,
  },
  {
    name: "testimony",
    goal: "Reassure with what other customers say",
    prompt: null,
    next: ["consultation", "promo", "closing"],
    attachment: null,
  },
  {
    name: "promo",
    goal: "Present the current offer for the chosen product",
    prompt: null,
    next: ["consultation", "closing"],
    attachment: null,
  },
  {
    name: "closing",
    goal: "Confirm the order: product, quantity and price",
    prompt: null,
    next: ["consultation", "farewell"],
    attachment: null,
  },
  {
    name: "farewell",
    goal: "Thank the visitor and end the conversation",
    prompt: null,
    next: [],
    attachment: null,
  },
];
