/**
 * Who an HTTP request is, decoded once per request before its handler: the
 * credentials in its Authorization header become an identity, and the
 * route gets the services as that identity may use them (services/guard.ts).
 *
 * etcd's gateway takes the bare token as the header's value (Patroni and
 * APISIX send it so); "Bearer <token>" is read too. The native API takes
 * "Bearer <token>" or HTTP Basic (user name and password on every request;
 * checked passwords are remembered, so only the first costs a slow hash).
 */
import type { FastifyInstance } from "fastify";
import type { MemberApis } from "../kv/api.js";
import type { AuthService, Credentials, Identity } from "../services/auth.js";
import { guardedApis } from "../services/guard.js";
import { invalidArgument } from "../errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Who sent the request (anonymous while auth is off). */
    identity: Identity;
    /** The services as this request's identity may use them. */
    apis: MemberApis;
  }
}

export type AuthorizationScheme = "bare-token" | "bearer-or-basic";

export interface AuthContextOptions {
  readonly auth: AuthService;
  readonly apis: MemberApis;
  readonly scheme: AuthorizationScheme;
}

/** Within a plugin: every request gets its identity and guarded services before its handler runs. */
export function identifyRequests(app: FastifyInstance, { auth, apis, scheme }: AuthContextOptions): void {
  // Set on every request by the hook below; fastify wants a non-reference placeholder.
  app.decorateRequest("identity", null as unknown as Identity);
  app.decorateRequest("apis", null as unknown as MemberApis);
  // The guarded services hold no state of a request's own and check at each call, so one set serves every request
  // of an identity: while auth is off that is every request (identify answers ANONYMOUS), which then no longer
  // builds some forty closures (2 KB) each.
  const guardedFor = new WeakMap<Identity, MemberApis>();
  // Guarded even while auth is off: a write then carries the auth revision it was let through at, so that
  // apply refuses it if auth was turned on before it committed.
  const guardedOf = (identity: Identity): MemberApis => {
    let guarded = guardedFor.get(identity);
    if (!guarded) {
      guarded = guardedApis(apis, auth, identity);
      guardedFor.set(identity, guarded);
    }
    return guarded;
  };
  // In fastify's callback form, as the other hooks every request runs: an async hook costs a promise and its turns.
  app.addHook("preHandler", (request, _reply, done) => {
    const settle = (identity: Identity): void => {
      try {
        request.identity = identity;
        request.apis = guardedOf(identity);
      } catch (error) {
        // Thrown in a `then`, it would be an unhandled rejection and stop the member.
        return done(error as Error);
      }
      done();
    };
    try {
      auth.identify(credentialsOf(request.headers.authorization, scheme)).then(settle, done);
    } catch (error) {
      done(error as Error);
    }
  });
}

export function credentialsOf(header: string | undefined, scheme: AuthorizationScheme): Credentials {
  const value = header?.trim() ?? "";
  if (value === "") return { kind: "none" };
  const [kind, rest = ""] = splitOnce(value, " ");
  if (kind.toLowerCase() === "bearer") return { kind: "token", token: rest.trim() };
  if (scheme === "bare-token") return { kind: "token", token: value };
  if (kind.toLowerCase() === "basic") return basicCredentials(rest.trim());
  throw invalidArgument("the Authorization header must be Bearer <token> or Basic <base64 of user:password>");
}

function basicCredentials(encoded: string): Credentials {
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const [user, password] = splitOnce(decoded, ":");
  if (password === undefined) throw invalidArgument("HTTP Basic credentials must be base64 of user:password");
  return { kind: "password", user, password };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}
