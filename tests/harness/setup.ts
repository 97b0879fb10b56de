/**
 * Runs in workerd before each test file: gives the file its own database, cloned from the
 * migrated template, by pointing this isolate's `DATABASE_URL` at it. The Worker under test
 * (`SELF`, queue consumers, Durable Objects) shares this isolate's `env`, so all of it uses the
 * fresh database, and files never see each other's rows. Files share the isolate (vitest's
 * `isolate: false`), so the configuration parsed for the previous file is forgotten here.
 */
import { env } from "cloudflare:workers";
import { beforeAll, inject } from "vitest";
import { type Env, forgetConfig } from "../../src/env";

beforeAll(async () => {
  const response = await fetch(`${inject("harnessUrl")}/databases`, { method: "POST" });
  if (response.status !== 201) throw new Error(`could not create a test database: ${await response.text()}`);
  const { url } = (await response.json()) as { url: string };
  (env as unknown as Record<string, unknown>).DATABASE_URL = url;
  forgetConfig(env as unknown as Env);
});
