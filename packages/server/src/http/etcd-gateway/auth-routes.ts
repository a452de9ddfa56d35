/**
 * etcd's Auth service on the gateway, at etcd's paths with its field names
 * (`/v3/auth/status` is etcd 3.5's; the others are 3.4's). Each route
 * passes the request's identity to the auth service, which decides.
 */
import type { Permission } from "../../auth/state.js";
import { PERMISSION_TYPES } from "../../auth/state.js";
import type { AuthService, Identity } from "../../services/auth.js";
import { object, type Schema } from "../schema.js";
import type { Fields, JsonObject } from "./decode.js";
import { compact, encodeBytes, encodeInt } from "./proto3-json.js";
import { encodeHeader, headerOnly } from "./encode.js";

/** How the gateway's plugin adds a POST route whose handler gets the body and the request's identity. */
export type AuthPost = (url: string, body: Schema, handle: (f: Fields, identity: Identity) => Promise<JsonObject>) => void;

const STRING: Schema = { type: "string" };
const BYTES: Schema = { type: "string" };
const PERMISSION: Schema = object({
  permType: {
    anyOf: [
      { type: "string", enum: PERMISSION_TYPES },
      { type: "integer", minimum: 0, maximum: 2 },
    ],
  },
  key: BYTES,
  range_end: BYTES,
});

export function authRoutes(post: AuthPost, auth: AuthService): void {
  const empty = object({});
  post("/v3/auth/enable", empty, async (_f, identity) => headerOnly(await auth.enable(identity)));
  post("/v3/auth/disable", empty, async (_f, identity) => headerOnly(await auth.disable(identity)));
  post("/v3/auth/status", empty, async () => {
    const { header, enabled, authRevision } = await auth.status();
    return { header: encodeHeader(header), ...compact({ enabled, authRevision: encodeInt(authRevision) }) };
  });
  post("/v3/auth/authenticate", object({ name: STRING, password: STRING }), async (f) => {
    const { header, token } = await auth.authenticate(f.string("name"), f.string("password"));
    return { header: encodeHeader(header), token };
  });

  const userAdd = object({ name: STRING, password: STRING, options: object({ no_password: { type: "boolean" } }) });
  post("/v3/auth/user/add", userAdd, async (f, identity) =>
    headerOnly(await auth.userAdd(identity, f.string("name"), f.string("password"), f.object("options").bool("no_password"))),
  );
  post("/v3/auth/user/get", object({ name: STRING }), async (f, identity) => {
    const { header, roles } = await auth.userGet(identity, f.string("name"));
    return { header: encodeHeader(header), ...compact({ roles }) };
  });
  post("/v3/auth/user/list", empty, async (_f, identity) => {
    const { header, users } = await auth.userList(identity);
    return { header: encodeHeader(header), ...compact({ users }) };
  });
  post("/v3/auth/user/delete", object({ name: STRING }), async (f, identity) => headerOnly(await auth.userDelete(identity, f.string("name"))));
  post("/v3/auth/user/changepw", object({ name: STRING, password: STRING }), async (f, identity) =>
    headerOnly(await auth.userChangePassword(identity, f.string("name"), f.string("password"))),
  );
  post("/v3/auth/user/grant", object({ user: STRING, role: STRING }), async (f, identity) =>
    headerOnly(await auth.userGrantRole(identity, f.string("user"), f.string("role"))),
  );
  post("/v3/auth/user/revoke", object({ name: STRING, role: STRING }), async (f, identity) =>
    headerOnly(await auth.userRevokeRole(identity, f.string("name"), f.string("role"))),
  );

  post("/v3/auth/role/add", object({ name: STRING }), async (f, identity) => headerOnly(await auth.roleAdd(identity, f.string("name"))));
  post("/v3/auth/role/get", object({ role: STRING }), async (f, identity) => {
    const { header, permissions } = await auth.roleGet(identity, f.string("role"));
    return { header: encodeHeader(header), ...compact({ perm: permissions.map(encodePermission) }) };
  });
  post("/v3/auth/role/list", empty, async (_f, identity) => {
    const { header, roles } = await auth.roleList(identity);
    return { header: encodeHeader(header), ...compact({ roles }) };
  });
  post("/v3/auth/role/delete", object({ role: STRING }), async (f, identity) => headerOnly(await auth.roleDelete(identity, f.string("role"))));
  post("/v3/auth/role/grant", object({ name: STRING, perm: PERMISSION }), async (f, identity) =>
    headerOnly(await auth.roleGrantPermission(identity, f.string("name"), f.has("perm") ? decodePermission(f.object("perm")) : undefined)),
  );
  post("/v3/auth/role/revoke", object({ role: STRING, key: BYTES, range_end: BYTES }), async (f, identity) =>
    headerOnly(await auth.roleRevokePermission(identity, f.string("role"), f.bytes("key"), f.bytes("range_end"))),
  );
}

function decodePermission(f: Fields): Permission {
  return { type: f.enum("permType", PERMISSION_TYPES), key: f.bytes("key"), rangeEnd: f.bytes("range_end") };
}

function encodePermission(permission: Permission): JsonObject {
  return compact({
    permType: permission.type === "READ" ? undefined : permission.type,
    key: encodeBytes(permission.key),
    range_end: encodeBytes(permission.rangeEnd),
  });
}
