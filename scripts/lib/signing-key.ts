import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { exportJWK, generateKeyPair } from "jose";

/** A fresh ES256 private JWK (JSON) for signing access tokens. */
export async function generateSigningKey(kid = `local-${Date.now().toString(36)}`): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  return JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: "ES256" });
}

/** The local dev signing key, made once and kept under .data/ so tokens survive restarts. */
export async function localSigningKey(dataDir: string): Promise<string> {
  const file = path.join(dataDir, "jwt-signing-key.json");
  try {
    return await readFile(file, "utf8");
  } catch {
    const key = await generateSigningKey();
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, key, { mode: 0o600 });
    return key;
  }
}

/**
 * The local key ring that seals linked database URLs (`DATA_ENCRYPTION_KEYS`), made once and
 * kept under .data/ so links made yesterday still open.
 */
export async function localDataEncryptionKeys(dataDir: string): Promise<string> {
  const file = path.join(dataDir, "data-encryption-keys");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    const ring = `local1:${key}`;
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, ring, { mode: 0o600 });
    return ring;
  }
}
