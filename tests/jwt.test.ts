import { base64url, decodeJwt, exportSPKI, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/env";
import { verifyCompactJws } from "../src/modules/identity/auth/jws";
import rsa from "./fixtures/jose/4_1.rsa_v15_signature.json";
import pss from "./fixtures/jose/4_2.rsa-pss_signature.json";
import ecdsa from "./fixtures/jose/4_3.ecdsa_signature.json";
import hmac from "./fixtures/jose/4_4.hmac-sha2_integrity_protection.json";
import detached from "./fixtures/jose/4_5.signature_with_detached_content.json";
import { call, signUp } from "./harness/api";
import { expectProblem, testEnv } from "./harness/helpers";

const realKey = () => JSON.parse(testEnv.JWT_PRIVATE_KEY as string) as JWK & { kid: string };

/** Signs claims the way the server does, with any key and header: the forger's toolkit. */
async function forge(claims: Record<string, unknown>, options: { key?: CryptoKey | Uint8Array; alg?: string; kid?: string } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const key = options.key ?? ((await importJWK(realKey(), "ES256")) as CryptoKey);
  return new SignJWT({ iss: "billx", aud: "billx-api", iat: now, exp: now + 600, ...claims })
    .setProtectedHeader({ alg: options.alg ?? "ES256", kid: options.kid ?? realKey().kid, typ: "JWT" })
    .sign(key);
}

async function victim() {
  const account = await signUp("jwt");
  const { sub, sid } = decodeJwt(account.access_token) as { sub: string; sid: string };
  return { account, sub, sid };
}

const me = (token: string) => call("/v1/auth/me", { token });

describe("access token verification refuses forged and stale tokens with 401", () => {
  it("accepts a correctly signed token (the forging helper itself is sound)", async () => {
    const { sub, sid } = await victim();
    expect((await me(await forge({ sub, sid }))).status).toBe(200);
  });

  it("alg: none", async () => {
    const { sub, sid } = await victim();
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT", kid: realKey().kid }));
    const now = Math.floor(Date.now() / 1000);
    const payload = base64url.encode(JSON.stringify({ iss: "billx", aud: "billx-api", sub, sid, iat: now, exp: now + 600 }));
    await expectProblem(await me(`${header}.${payload}.`), 401);
  });

  it("HS256 signed with the server's public key as the HMAC secret", async () => {
    const { sub, sid } = await victim();
    const { d: _d, ...publicJwk } = realKey();
    const publicKey = (await importJWK({ ...publicJwk, alg: "ES256" }, "ES256", { extractable: true })) as CryptoKey;
    for (const secret of [await exportSPKI(publicKey), JSON.stringify(publicJwk)]) {
      const token = await forge({ sub, sid }, { alg: "HS256", key: new TextEncoder().encode(secret) });
      await expectProblem(await me(token), 401);
    }
  });

  it("an unknown kid", async () => {
    const { sub, sid } = await victim();
    const { privateKey } = await generateKeyPair("ES256");
    await expectProblem(await me(await forge({ sub, sid }, { key: privateKey, kid: "attacker-key" })), 401);
  });

  it("the right kid but another key's signature", async () => {
    const { sub, sid } = await victim();
    const { privateKey } = await generateKeyPair("ES256");
    await expectProblem(await me(await forge({ sub, sid }, { key: privateKey })), 401);
  });

  it("expired", async () => {
    const { sub, sid } = await victim();
    const past = Math.floor(Date.now() / 1000) - 3600;
    await expectProblem(await me(await forge({ sub, sid, iat: past - 900, exp: past })), 401);
  });

  it("not yet valid", async () => {
    const { sub, sid } = await victim();
    await expectProblem(await me(await forge({ sub, sid, nbf: Math.floor(Date.now() / 1000) + 3600 })), 401);
  });

  it("a tampered payload under a genuine signature", async () => {
    const { account } = await victim();
    const other = await signUp("jwt-other");
    const [header, , signature] = account.access_token.split(".");
    const claims = decodeJwt(account.access_token);
    const tampered = base64url.encode(JSON.stringify({ ...claims, sub: decodeJwt(other.access_token).sub }));
    await expectProblem(await me(`${header}.${tampered}.${signature}`), 401);
  });

  it("another audience or issuer", async () => {
    const { sub, sid } = await victim();
    await expectProblem(await me(await forge({ sub, sid, aud: "some-other-api" })), 401);
    await expectProblem(await me(await forge({ sub, sid, iss: "someone-else" })), 401);
  });

  it("a genuine token whose session belongs to another user", async () => {
    const { sid } = await victim();
    const other = await signUp("jwt-thief");
    await expectProblem(await me(await forge({ sub: decodeJwt(other.access_token).sub, sid })), 401);
  });

  it("revoked by logout", async () => {
    const { account } = await victim();
    expect((await call("/v1/auth/logout", { method: "POST", token: account.access_token })).status).toBe(204);
    await expectProblem(await me(account.access_token), 401);
  });

  it("garbage in the Authorization header", async () => {
    for (const token of ["abc", "a.b.c", "eyJhbGciOiJFUzI1NiJ9..", "x".repeat(5000)]) await expectProblem(await me(token), 401);
  });

  it("signs with the configured key id, which the JWKS publishes", async () => {
    const { account } = await victim();
    const [header] = account.access_token.split(".");
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(header!)))).toEqual({ alg: "ES256", kid: "test-key-1", typ: "JWT" });
    expect(loadConfig(testEnv).jwt.privateKey.kid).toBe("test-key-1");
  });
});

describe("RFC 7520 JWS examples verify through the middleware's helper", () => {
  const cases = [rsa, pss, ecdsa, hmac];
  for (const vector of cases) {
    it(`${vector.title} (${vector.input.alg})`, async () => {
      const verified = await verifyCompactJws(vector.output.compact, [vector.input.key as JWK], [vector.input.alg]);
      expect(new TextDecoder().decode(verified?.payload)).toBe(vector.input.payload);
      expect(verified?.header.alg).toBe(vector.input.alg);
    });
  }

  it("Signature with detached content, once the payload is put back", async () => {
    const [header, , signature] = detached.output.compact.split(".");
    const attached = `${header}.${base64url.encode(detached.input.payload)}.${signature}`;
    const verified = await verifyCompactJws(attached, [detached.input.key as JWK], ["HS256"]);
    expect(new TextDecoder().decode(verified?.payload)).toBe(detached.input.payload);
  });

  it("refuses each example when its algorithm is not allowed, or its payload changed", async () => {
    for (const vector of cases) {
      expect(await verifyCompactJws(vector.output.compact, [vector.input.key as JWK], ["ES256"])).toBeNull();
      const [h, , s] = vector.output.compact.split(".");
      const changed = `${h}.${base64url.encode(`${vector.input.payload}!`)}.${s}`;
      expect(await verifyCompactJws(changed, [vector.input.key as JWK], [vector.input.alg])).toBeNull();
    }
  });
});
