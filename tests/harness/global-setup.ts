/**
 * Runs once per `npm test`, in Node: a real PostgreSQL 17 (embedded, or DATABASE_URL's server),
 * the local Neon gateway, a migrated template database, the harness control server, and the
 * provider fakes. Their addresses reach the Worker through `provide`/`inject`.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { applyMigrations } from "../../scripts/lib/migrate.ts";
import { startNeonGateway } from "../../scripts/lib/neon-gateway.ts";
import { ensureDatabase, startPostgres } from "../../scripts/lib/postgres.ts";
import { generateSigningKey } from "../../scripts/lib/signing-key.ts";
import { startFakeElevenLabs } from "../fakes/elevenlabs.ts";
import { startFakeGoogle } from "../fakes/google.ts";
import { startFakeOpenAI } from "../fakes/openai.ts";
import { REALTIME_TEST_API_KEY, startFakeRealtime } from "../fakes/realtime.ts";
import { startFakeResend } from "../fakes/resend.ts";
import { startFakeStripe } from "../fakes/stripe.ts";
import { startFakeTelegram } from "../fakes/telegram.ts";
import { startFakeTwilio } from "../fakes/twilio.ts";
import { startFakeWhatsApp } from "../fakes/whatsapp.ts";
import { startControlServer, TEMPLATE_DATABASE } from "./control-server.ts";
import { loadChinook } from "./sample-databases.ts";

export default async function setup(project: TestProject) {
  const postgres = await startPostgres({
    dataDir: await mkdtemp(path.join(tmpdir(), "billx-test-pg-")),
    ephemeral: true,
    fast: true,
  });
  const server = new URL(postgres.adminUrl);
  const gateway = await startNeonGateway({ postgresHost: server.hostname, postgresPort: Number(server.port) });

  await dropDatabase(postgres.adminUrl, TEMPLATE_DATABASE);
  await ensureDatabase(postgres.adminUrl, TEMPLATE_DATABASE);
  await applyMigrations(postgres.urlFor(TEMPLATE_DATABASE));
  const control = await startControlServer(postgres.adminUrl, postgres.urlFor);
  const chinook = await loadChinook(postgres.adminUrl, postgres.urlFor);
  const openai = await startFakeOpenAI();
  const google = await startFakeGoogle();
  const telegram = await startFakeTelegram();
  const resend = await startFakeResend();
  const twilio = await startFakeTwilio();
  const whatsapp = await startFakeWhatsApp();
  const stripe = await startFakeStripe();
  // The key vitest.config.ts gives the Worker as ELEVENLABS_API_KEY.
  const elevenlabs = await startFakeElevenLabs("xi-test-fake");
  // The key vitest.config.ts gives the Worker as OPENAI_API_KEY: the Realtime fake refuses others.
  const realtime = await startFakeRealtime(REALTIME_TEST_API_KEY);

  project.provide("neonGateway", gateway.address);
  project.provide("harnessUrl", control.url);
  project.provide("postgresAdminUrl", postgres.adminUrl);
  project.provide("openaiBaseUrl", openai.url);
  project.provide("googleBaseUrl", google.url);
  project.provide("telegramBaseUrl", telegram.url);
  project.provide("resendBaseUrl", resend.url);
  project.provide("twilioBaseUrl", twilio.url);
  project.provide("whatsappBaseUrl", whatsapp.url);
  project.provide("stripeBaseUrl", stripe.url);
  project.provide("elevenlabsBaseUrl", elevenlabs.url);
  project.provide("realtimeUrl", realtime.url);
  project.provide("jwtPrivateKey", await generateSigningKey("test-key-1"));
  project.provide("chinookOwnerUrl", chinook.ownerUrl);
  project.provide("chinookReaderUrl", chinook.readerUrl);

  return async () => {
    await openai.close();
    await google.close();
    await telegram.close();
    await resend.close();
    await twilio.close();
    await whatsapp.close();
    await stripe.close();
    await elevenlabs.close();
    await realtime.close();
    await control.close();
    await gateway.close();
    await postgres.stop();
  };
}

async function dropDatabase(adminUrl: string, name: string) {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    neonGateway: string;
    harnessUrl: string;
    postgresAdminUrl: string;
    openaiBaseUrl: string;
    googleBaseUrl: string;
    telegramBaseUrl: string;
    resendBaseUrl: string;
    twilioBaseUrl: string;
    whatsappBaseUrl: string;
    stripeBaseUrl: string;
    elevenlabsBaseUrl: string;
    /** The OpenAI Realtime fake's http:// base: `ws://…/v1/realtime` is its endpoint, `/_fake/realtime/*` its controls. */
    realtimeUrl: string;
    jwtPrivateKey: string;
    chinookOwnerUrl: string;
    chinookReaderUrl: string;
  }
}
