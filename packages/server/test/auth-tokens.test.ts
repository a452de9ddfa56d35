/**
 * Tokens on their own: JWTs signed and checked with node:crypto for each
 * family of etcd's sign methods, and refused when forged, tampered with,
 * expired or of another algorithm; etcd's --auth-token specs; and a simple
 * token accepted by a member that applies its issuing entry only after the
 * request arrives.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { INITIAL_AUTH_STATE, type AuthState } from "../src/auth/state.js";
import { JwtTokens, SimpleTokens, tokenProviderFor } from "../src/auth/tokens.js";
import { AuthService } from "../src/services/auth.js";
import { ConditionWaiters } from "../src/condition-waiters.js";

const CLAIMS = { user: "alice", revision: 7 };

function keys(kind: "rsa" | "ec" | "ed25519"): { publicKey: KeyObject; privateKey: KeyObject } {
  if (kind === "rsa") return generateKeyPairSync("rsa", { modulusLength: 2048 });
  if (kind === "ec") return generateKeyPairSync("ec", { namedCurve: "P-256" });
  return generateKeyPairSync("ed25519");
}

test("a JWT of each family verifies with its key and no other, and not once tampered with or expired", () => {
  for (const [signMethod, kind] of [
    ["RS256", "rsa"],
    ["PS256", "rsa"],
    ["ES256", "ec"],
    ["EdDSA", "ed25519"],
  ] as const) {
    const pair = keys(kind);
    const tokens = new JwtTokens({ signMethod, ...pair, ttlMs: 60_000 });
    const token = tokens.issue(1, CLAIMS);
    assert.deepEqual(tokens.resolve(token), CLAIMS, signMethod);

    const stranger = new JwtTokens({ signMethod, ...keys(kind), ttlMs: 60_000 });
    assert.equal(stranger.resolve(token), undefined, `${signMethod}: another cluster's key`);
    const [header, , signature] = token.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ username: "root", revision: 7, exp: 4e9 })).toString("base64url");
    assert.equal(tokens.resolve(`${header}.${forgedPayload}.${signature}`), undefined, `${signMethod}: tampered`);
    const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    assert.equal(tokens.resolve(`${none}.${forgedPayload}.`), undefined, `${signMethod}: alg none`);
    const expired = new JwtTokens({ signMethod, ...pair, ttlMs: -60_000 });
    assert.equal(tokens.resolve(expired.issue(1, CLAIMS)), undefined, `${signMethod}: expired`);
    for (const junk of ["", "a.b", "a.b.c", "....", "x".repeat(10_000)]) assert.equal(tokens.resolve(junk), undefined, `${signMethod}: ${junk.slice(0, 8)}`);
  }
});

test("--auth-token specs: simple, jwt with key files, and etcd-style errors for bad ones", () => {
  const dir = mkdtempSync(join(tmpdir(), "raftkv-jwt-"));
  const pair = keys("ec");
  writeFileSync(join(dir, "pub.pem"), pair.publicKey.export({ type: "spki", format: "pem" }));
  writeFileSync(join(dir, "priv.pem"), pair.privateKey.export({ type: "pkcs8", format: "pem" }));
  assert.ok(tokenProviderFor("simple", 300) instanceof SimpleTokens);
  const jwt = tokenProviderFor(`jwt,pub-key=${join(dir, "pub.pem")},priv-key=${join(dir, "priv.pem")},sign-method=ES256,ttl=10m`, 300);
  assert.deepEqual(jwt.resolve(jwt.issue(1, CLAIMS, undefined)), CLAIMS);
  const verifyOnly = tokenProviderFor(`jwt,pub-key=${join(dir, "pub.pem")},sign-method=ES256`, 300);
  assert.deepEqual(verifyOnly.resolve(jwt.issue(1, CLAIMS, undefined)), CLAIMS);
  assert.throws(() => verifyOnly.issue(1, CLAIMS, undefined), /no priv-key/);
  assert.throws(() => tokenProviderFor("opaque", 300), /expected simple or jwt/);
  assert.throws(() => tokenProviderFor("jwt,sign-method=ES256", 300), /pub-key/);
  assert.throws(() => tokenProviderFor(`jwt,pub-key=${join(dir, "missing.pem")}`, 300), /cannot read the key/);
  assert.throws(() => tokenProviderFor(`jwt,pub-key=${join(dir, "pub.pem")},sign-method=HS999`, 300), /unsupported sign-method/);
  assert.throws(() => tokenProviderFor(`jwt,pub-key`, 300), /name=value/);
});

test("a simple token is accepted by a member that applies its issuing entry after the request arrives", async () => {
  const tokens = new SimpleTokens(60_000);
  const state: AuthState = {
    ...INITIAL_AUTH_STATE,
    enabled: true,
    revision: 7,
    enabledRevision: 3,
    users: new Map([["alice", { name: "alice", roles: [], credentialRevision: 2 }]]),
  };
  const member = { auth: { state }, appliedIndex: 10 };
  const host = new ConditionWaiters();
  const proposer = { propose: async () => undefined, header: () => ({ clusterId: 1, memberId: 1, revision: 1, raftTerm: 1 }) };
  const auth = new AuthService({ stateMachine: member as never, host, proposer, tokens, bcryptCost: 4, tokenCatchUpMs: 60_000 });
  const part = tokens.newSimplePart();
  const identified = auth.identify({ kind: "token", token: `${part}.12` });
  // The member applies entries 11 and 12 (which issued the token) only now.
  member.appliedIndex = 11;
  host.recheck();
  tokens.learn(12, CLAIMS, part);
  member.appliedIndex = 12;
  host.recheck();
  assert.deepEqual(await identified, { user: "alice" });

  const impatient = new AuthService({ stateMachine: member as never, host, proposer, tokens, bcryptCost: 4, tokenCatchUpMs: 50 });
  await assert.rejects(impatient.identify({ kind: "token", token: `${tokens.newSimplePart()}.99` }), { message: "etcdserver: invalid auth token" });
  await assert.rejects(impatient.identify({ kind: "token", token: `${tokens.newSimplePart()}.5` }), { message: "etcdserver: invalid auth token" });
});
