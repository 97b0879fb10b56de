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
