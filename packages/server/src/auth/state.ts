/**
 * The replicated auth state, etcd v3's model: users (a password hash and
 * roles), roles (key-range permissions), the root user and role, whether
 * auth is on, and the auth revision, which every change moves on.
 *
 * Pure and deterministic: a command decided on the member that received it
 * (the password hashed there, with its salt) changes the state the same way
 * on every member; nothing here reads a clock or a random source.
 */
import { Packr } from "msgpackr";
import { etcdError } from "../errors.js";
import type { PasswordHash } from "./password.js";

export const ROOT = "root";

export const PERMISSION_TYPES = ["READ", "WRITE", "READWRITE"] as const;
export type PermissionType = (typeof PERMISSION_TYPES)[number];

/** etcd's Permission: one key (empty rangeEnd), [key, rangeEnd), or every key from key on (rangeEnd "\0"). */
export interface Permission {
  readonly type: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

export interface User {
  readonly name: string;
  /** Absent for a user added with etcd's no_password option: it cannot authenticate with a password. */
  readonly password?: PasswordHash;
  readonly roles: readonly string[];
  /** The auth revision of the user's creation or last password change: tokens issued before it are void. */
  readonly credentialRevision: number;
}

export interface Role {
  readonly name: string;
  readonly permissions: readonly Permission[];
}

export interface AuthState {
  readonly enabled: boolean;
  readonly revision: number;
  /** The revision at which auth was last turned on: tokens issued before it are void. */
  readonly enabledRevision: number;
  readonly users: ReadonlyMap<string, User>;
  readonly roles: ReadonlyMap<string, Role>;
}

export const INITIAL_AUTH_STATE: AuthState = { enabled: false, revision: 1, enabledRevision: 0, users: new Map(), roles: new Map() };

/** What the log carries for auth: every change, and authentications (so every member knows a simple token). */
export type AuthCommand =
  | { readonly op: "enable" }
  | { readonly op: "disable" }
  | { readonly op: "userAdd"; readonly name: string; readonly password?: PasswordHash }
  | { readonly op: "userDelete"; readonly name: string }
  | { readonly op: "userChangePassword"; readonly name: string; readonly password: PasswordHash }
  | { readonly op: "userGrantRole"; readonly user: string; readonly role: string }
  | { readonly op: "userRevokeRole"; readonly name: string; readonly role: string }
  | { readonly op: "roleAdd"; readonly name: string }
  | { readonly op: "roleDelete"; readonly role: string }
  | { readonly op: "roleGrantPermission"; readonly name: string; readonly permission: Permission }
  | { readonly op: "roleRevokePermission"; readonly role: string; readonly key: Uint8Array; readonly rangeEnd: Uint8Array }
  /** The password was checked before proposing; `simpleToken` is the random part of a simple token, when that provider is on. */
  | { readonly op: "authenticate"; readonly name: string; readonly simpleToken?: string };

/** A change's new state; an authentication leaves the state as it is. */
export function applyAuthCommand(state: AuthState, command: AuthCommand): AuthState {
  switch (command.op) {
    case "enable":
      return enable(state);
    case "disable":
      return state.enabled ? bump({ ...state, enabled: false }) : state;
    case "userAdd":
      return userAdd(state, command.name, command.password);
    case "userDelete":
      return userDelete(state, command.name);
    case "userChangePassword":
      return changePassword(state, command.name, command.password);
    case "userGrantRole":
      return userGrantRole(state, command.user, command.role);
    case "userRevokeRole":
      return userRevokeRole(state, command.name, command.role);
    case "roleAdd":
      return roleAdd(state, command.name);
    case "roleDelete":
      return roleDelete(state, command.role);
    case "roleGrantPermission":
      return roleGrantPermission(state, command.name, command.permission);
    case "roleRevokePermission":
      return roleRevokePermission(state, command.role, command.key, command.rangeEnd);
    case "authenticate":
      if (!state.enabled) throw etcdError("authNotEnabled");
      if (!state.users.has(command.name)) throw etcdError("authFailed");
      return state;
  }
}

function bump(state: AuthState): AuthState {
  return { ...state, revision: state.revision + 1 };
}

function enable(state: AuthState): AuthState {
  if (state.enabled) return state;
  const root = state.users.get(ROOT);
  if (!root) throw etcdError("rootUserNotExist");
  if (!root.roles.includes(ROOT)) throw etcdError("rootRoleNotExist");
  return { ...bump(state), enabled: true, enabledRevision: state.revision + 1 };
}

export function userOf(state: AuthState, name: string): User {
  const user = state.users.get(name);
  if (!user) throw etcdError("userNotFound");
  return user;
}

export function roleOf(state: AuthState, name: string): Role {
  const role = state.roles.get(name);
  if (!role) throw etcdError("roleNotFound");
  return role;
}

function withUser(state: AuthState, user: User): AuthState {
  return { ...bump(state), users: new Map(state.users).set(user.name, user) };
}

function withRole(state: AuthState, role: Role): AuthState {
  return { ...bump(state), roles: new Map(state.roles).set(role.name, role) };
}

function userAdd(state: AuthState, name: string, password: PasswordHash | undefined): AuthState {
  if (name === "") throw etcdError("userEmpty");
  if (state.users.has(name)) throw etcdError("userAlreadyExist");
  const user: User = { name, roles: [], credentialRevision: state.revision + 1, ...(password ? { password } : {}) };
  return withUser(state, user);
}

function userDelete(state: AuthState, name: string): AuthState {
  if (state.enabled && name === ROOT) throw etcdError("invalidAuthMgmt");
  userOf(state, name);
  const users = new Map(state.users);
  users.delete(name);
  return { ...bump(state), users };
}

function changePassword(state: AuthState, name: string, password: PasswordHash): AuthState {
  const user = userOf(state, name);
  return withUser(state, { ...user, password, credentialRevision: state.revision + 1 });
}

function userGrantRole(state: AuthState, name: string, role: string): AuthState {
  const user = userOf(state, name);
  if (role !== ROOT) roleOf(state, role);
  if (user.roles.includes(role)) return state;
  return withUser(state, { ...user, roles: [...user.roles, role].sort() });
}

function userRevokeRole(state: AuthState, name: string, role: string): AuthState {
  const user = userOf(state, name);
  if (state.enabled && name === ROOT && role === ROOT) throw etcdError("invalidAuthMgmt");
  if (!user.roles.includes(role)) throw etcdError("roleNotGranted");
  return withUser(state, { ...user, roles: user.roles.filter((granted) => granted !== role) });
}

function roleAdd(state: AuthState, name: string): AuthState {
  if (name === "") throw etcdError("roleEmpty");
  if (state.roles.has(name)) throw etcdError("roleAlreadyExist");
  return withRole(state, { name, permissions: [] });
}

function roleDelete(state: AuthState, name: string): AuthState {
  if (state.enabled && name === ROOT) throw etcdError("invalidAuthMgmt");
  roleOf(state, name);
  const roles = new Map(state.roles);
  roles.delete(name);
  // As in etcd, the role leaves every user that held it.
  const users = new Map([...state.users].map(([userName, user]) => [userName, { ...user, roles: user.roles.filter((held) => held !== name) }]));
  return { ...bump(state), roles, users };
}

function roleGrantPermission(state: AuthState, name: string, permission: Permission): AuthState {
  const role = roleOf(state, name);
  if (!isValidPermissionRange(permission.key, permission.rangeEnd)) throw etcdError("invalidAuthMgmt");
  const others = role.permissions.filter((held) => !sameRange(held, permission.key, permission.rangeEnd));
  const permissions = [...others, permission].sort((a, b) => Buffer.compare(a.key, b.key) || Buffer.compare(a.rangeEnd, b.rangeEnd));
  return withRole(state, { ...role, permissions });
}

function roleRevokePermission(state: AuthState, name: string, key: Uint8Array, rangeEnd: Uint8Array): AuthState {
  const role = roleOf(state, name);
  const permissions = role.permissions.filter((held) => !sameRange(held, key, rangeEnd));
  if (permissions.length === role.permissions.length) throw etcdError("permissionNotGranted");
  return withRole(state, { ...role, permissions });
}

function sameRange(permission: Permission, key: Uint8Array, rangeEnd: Uint8Array): boolean {
  return Buffer.compare(permission.key, key) === 0 && Buffer.compare(permission.rangeEnd, rangeEnd) === 0;
}

/** etcd's rule: one key, or a range whose end is past its start, or from the key on ("\0"). */
function isValidPermissionRange(key: Uint8Array, rangeEnd: Uint8Array): boolean {
  if (rangeEnd.length === 0) return true;
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return true;
  return Buffer.compare(key, rangeEnd) < 0;
}

// ------------------------------------------------------------- persistence

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeAuthState(state: AuthState): Uint8Array {
  return new Uint8Array(packr.pack({ ...state, users: [...state.users.values()], roles: [...state.roles.values()] }));
}

export function decodeAuthState(bytes: Uint8Array | undefined): AuthState {
  if (bytes === undefined) return INITIAL_AUTH_STATE;
  const decoded = packr.unpack(bytes) as Omit<AuthState, "users" | "roles"> & { users: User[]; roles: Role[] };
  return {
    ...decoded,
    users: new Map(decoded.users.map((user) => [user.name, user])),
    roles: new Map(decoded.roles.map((role) => [role.name, role])),
  };
}
