/** `npm run db:migrate`: applies migrations to $DATABASE_URL, or to the embedded dev database. */
import { startLocalStack } from "./lib/local-stack.ts";

const stack = await startLocalStack();
console.log(`migrations applied to ${new URL(stack.databaseUrl).pathname.slice(1)}`);
await stack.stop();
