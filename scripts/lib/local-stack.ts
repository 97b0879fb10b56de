import path from "node:path";
import { applyMigrations } from "./migrate.ts";
import { type NeonGateway, startNeonGateway } from "./neon-gateway.ts";
import { ensureDatabase, type RunningPostgres, startPostgres } from "./postgres.ts";
import { localDataEncryptionKeys, localSigningKey } from "./signing-key.ts";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const DEV_DATABASE = "billx";

export interface LocalStack {
  postgres: RunningPostgres;
  gateway: NeonGateway;
  databaseUrl: string;
  /** ES256 private JWK for access tokens ($JWT_PRIVATE_KEY, or one kept under .data/). */
  signingKey: string;
  /** AES keys sealing linked database URLs ($DATA_ENCRYPTION_KEYS, or one kept under .data/). */
  dataEncryptionKeys: string;
  stop(): Promise<void>;
}

/**
 * The database side of local development: Postgres (embedded under .data/, or DATABASE_URL's
 * server), the `billx` database with every migration applied, and the local Neon gateway.
 */
export async function startLocalStack(log: (line: string) => void = () => {}): Promise<LocalStack> {
  const postgres = await startPostgres({ dataDir: path.join(ROOT, ".data/postgres"), log });
  const databaseUrl = process.env.DATABASE_URL ?? postgres.urlFor(DEV_DATABASE);
  if (!process.env.DATABASE_URL) await ensureDatabase(postgres.adminUrl, DEV_DATABASE);
  await applyMigrations(databaseUrl);
  const server = new URL(databaseUrl);
  const gateway = await startNeonGateway({ postgresHost: server.hostname, postgresPort: Number(server.port || 5432) });
  const signingKey = process.env.JWT_PRIVATE_KEY ?? (await localSigningKey(path.join(ROOT, ".data")));
  const dataEncryptionKeys = process.env.DATA_ENCRYPTION_KEYS ?? (await localDataEncryptionKeys(path.join(ROOT, ".data")));
  return {
    postgres,
    gateway,
    databaseUrl,
    signingKey,
    dataEncryptionKeys,
    async stop() {
      await gateway.close();
      await postgres.stop();
    },
  };
}
