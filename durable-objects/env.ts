/**
 * What the Durable Objects read from the Worker's environment: nothing yet. They type their `env`
 * with this, not with src/env.ts's `Env`, because `Env` names the Durable Object classes in its
 * namespace bindings and the two would import each other. `Env` extends this: what is added here
 * becomes part of the Worker's environment too, and a declaration there that disagrees fails typecheck.
 */
export type DurableObjectEnv = Record<never, never>;
