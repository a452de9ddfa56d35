/**
 * `raftkv auth|user|role …`: etcdctl's auth commands, with its output
 * lines. Passwords come after a colon (`user add alice:secret`) or in
 * --new-user-password; there is no interactive prompt. As etcdctl does,
 * `auth enable` first makes the root role and grants it to root when they
 * are missing.
 */
import type { Client, Permission, PermissionType } from "@raftkv/client";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import { headerJson } from "../json-shapes.js";
import { show } from "../output.js";
import { withClient, type Session } from "../session.js";

type Action = (session: Session, ...args: string[]) => Promise<void>;

/** A subcommand whose result is one of etcdctl's lines (or its header, in JSON). */
function simpleCommand(
  group: Command,
  usage: string,
  description: string,
  run: (client: Client, ...args: string[]) => Promise<{ line: string; header?: object }>,
): Command {
  return leaf(group, usage, description, async ({ client, options }, ...args) => {
    const { line, header } = await run(client, ...args);
    show(options.writeOut, { json: () => ({ ...(header ? { header } : {}) }), simple: () => [line] });
  });
}

function leaf(group: Command, usage: string, description: string, action: Action): Command {
  return group
    .command(usage)
    .description(description)
    .action(async (...received: unknown[]) => {
      const command = received[received.length - 1] as Command;
      const args = received.slice(0, -2).map(String);
      await withClient(command, (session) => action(session, ...args));
    });
}

export function registerAuth(program: Command): void {
  const auth = program.command("auth").description("turn authentication on or off, or show whether it is on");
  simpleCommand(auth, "enable", "turn authentication on (making the root role and granting it to root if needed)", async (client) => {
    const enable = async () => ({ line: "Authentication Enabled", header: headerJson(await client.auth.enable()) });
    try {
      return await enable();
    } catch (error) {
      if (!(error instanceof Error) || error.message !== "etcdserver: root user does not have root role") throw error;
      if (!(await client.auth.roleList()).includes("root")) await client.auth.roleAdd("root");
      await client.auth.userGrantRole("root", "root");
      return enable();
    }
  });
  simpleCommand(auth, "disable", "turn authentication off (root only)", async (client) => ({
    line: "Authentication Disabled",
    header: headerJson(await client.auth.disable()),
  }));
  leaf(auth, "status", "whether authentication is on, and the auth revision", async ({ client, options }) => {
    const { enabled, authRevision } = await client.auth.status();
    show(options.writeOut, {
      json: () => ({ Enabled: enabled, AuthRevision: authRevision }),
      simple: () => [`Authentication Status: ${enabled}`, `AuthRevision: ${authRevision}`],
    });
  });
  registerUser(program);
  registerRole(program);
}

function registerUser(program: Command): void {
  const user = program.command("user").description("users: add, get, list, delete, passwd, grant-role, revoke-role");
  const add: Command = simpleCommand(
    user,
    "add <name>",
    "add a user: <name:password>, or <name> with --new-user-password or --no-password",
    async (client, nameArg) => {
      const options = add.opts<{ newUserPassword?: string; password?: boolean }>();
      // commander reads --no-password as `password: false`.
      const noPassword = options.password === false;
      const { name, password } = splitPassword(nameArg ?? "", options.newUserPassword, noPassword);
      return { line: `User ${name} created`, header: headerJson(await client.auth.userAdd(name, password, { noPassword })) };
    },
  )
    .option("--new-user-password <password>", "the new user's password")
    .option("--no-password", "a user that cannot log in with a password");
  leaf(user, "get <name>", "a user's roles", async ({ client, options }, name = "") => {
    const roles = await client.auth.userGet(name);
    show(options.writeOut, { json: () => ({ roles }), simple: () => [`User: ${name}`, `Roles: ${roles.join(" ")}`] });
  });
  leaf(user, "list", "every user", async ({ client, options }) => {
    const users = await client.auth.userList();
    show(options.writeOut, { json: () => ({ users }), simple: () => users });
  });
  simpleCommand(user, "delete <name>", "delete a user", async (client, name = "") => ({
    line: `User ${name} deleted`,
    header: headerJson(await client.auth.userDelete(name)),
  }));
  const passwd: Command = simpleCommand(user, "passwd <name>", "change a user's password (--new-user-password, or name:password)", async (client, nameArg) => {
    const { name, password } = splitPassword(nameArg ?? "", passwd.opts<{ newUserPassword?: string }>().newUserPassword, false);
    return { line: "Password updated", header: headerJson(await client.auth.userChangePassword(name, password)) };
  }).option("--new-user-password <password>", "the new password");
  simpleCommand(user, "grant-role <user> <role>", "grant a role to a user", async (client, name = "", role = "") => ({
    line: `Role ${role} is granted to user ${name}`,
    header: headerJson(await client.auth.userGrantRole(name, role)),
  }));
  simpleCommand(user, "revoke-role <user> <role>", "revoke a role from a user", async (client, name = "", role = "") => ({
    line: `Role ${role} is revoked from user ${name}`,
    header: headerJson(await client.auth.userRevokeRole(name, role)),
  }));
}

function registerRole(program: Command): void {
  const role = program.command("role").description("roles: add, get, list, delete, grant-permission, revoke-permission");
  simpleCommand(role, "add <name>", "add a role", async (client, name = "") => ({
    line: `Role ${name} created`,
    header: headerJson(await client.auth.roleAdd(name)),
  }));
  leaf(role, "get <name>", "a role's key permissions", async ({ client, options }, name = "") => {
    const permissions = await client.auth.roleGet(name);
    show(options.writeOut, { json: () => ({ perm: permissions.map(permissionJson) }), simple: () => roleLines(name, permissions) });
  });
  leaf(role, "list", "every role", async ({ client, options }) => {
    const roles = await client.auth.roleList();
    show(options.writeOut, { json: () => ({ roles }), simple: () => roles });
  });
  simpleCommand(role, "delete <name>", "delete a role (and revoke it from every user)", async (client, name = "") => ({
    line: `Role ${name} deleted`,
    header: headerJson(await client.auth.roleDelete(name)),
  }));
  const grant: Command = simpleCommand(
    role,
    "grant-permission <role> <type> <key> [endKey]",
    "grant read, write or readwrite on a key, a range [key, endKey), a prefix (--prefix) or every key from key on (--from-key)",
    async (client, name = "", type = "", key = "", endKey) => {
      const range = rangeOf(key, endKey, grant.opts<{ prefix?: boolean; fromKey?: boolean }>());
      return { line: `Role ${name} updated`, header: headerJson(await client.auth.roleGrantPermission(name, permissionType(type), range.key, range.rangeEnd)) };
    },
  )
    .option("--prefix", "the permission covers every key with <key> as prefix")
    .option("--from-key", "the permission covers every key from <key> on");
  const revoke: Command = simpleCommand(
    role,
    "revoke-permission <role> <key> [endKey]",
    "revoke a permission (the same key and range it was granted on)",
    async (client, name = "", key = "", endKey) => {
      const range = rangeOf(key, endKey, revoke.opts<{ prefix?: boolean; fromKey?: boolean }>());
      await client.auth.roleRevokePermission(name, range.key, range.rangeEnd);
      return {
        line:
          range.rangeEnd.length === 0
            ? `Permission of key ${key} is revoked from role ${name}`
            : `Permission of range [${key}, ${printable(range.rangeEnd)}) is revoked from role ${name}`,
      };
    },
  )
    .option("--prefix", "the permission covered every key with <key> as prefix")
    .option("--from-key", "the permission covered every key from <key> on");
}

function splitPassword(argument: string, given: string | undefined, noPassword: boolean): { name: string; password: string } {
  const colon = argument.indexOf(":");
  if (colon >= 0) return { name: argument.slice(0, colon), password: argument.slice(colon + 1) };
  if (given !== undefined || noPassword) return { name: argument, password: given ?? "" };
  throw new UsageError("give the password as name:password or with --new-user-password (there is no prompt)");
}

function permissionType(type: string): PermissionType {
  const upper = type.toUpperCase();
  if (upper === "READ" || upper === "WRITE" || upper === "READWRITE") return upper;
  throw new UsageError(`permission type must be read, write or readwrite, got ${JSON.stringify(type)}`);
}

function rangeOf(key: string, endKey: string | undefined, { prefix = false, fromKey = false }): { key: Buffer; rangeEnd: Buffer } {
  const start = Buffer.from(key);
  if (prefix && fromKey) throw new UsageError("--prefix and --from-key cannot both be given");
  if (fromKey) return { key: start, rangeEnd: Buffer.of(0) };
  if (prefix) return { key: start, rangeEnd: prefixEndOf(start) };
  return { key: start, rangeEnd: Buffer.from(endKey ?? "") };
}

function prefixEndOf(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] as number) < 0xff) {
      end[i] = (end[i] as number) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.of(0);
}

/** etcdctl's role get: the keys and ranges of each access, ranges as [start, end). */
function roleLines(name: string, permissions: readonly Permission[]): string[] {
  const describe = (permission: Permission): string => {
    if (permission.rangeEnd.length === 0) return `\t${permission.key.toString()}`;
    if (permission.rangeEnd.length === 1 && permission.rangeEnd[0] === 0) return `\t[${permission.key.toString()}, <open ended>`;
    const prefixNote = Buffer.compare(prefixEndOf(permission.key), permission.rangeEnd) === 0 ? ` (prefix ${permission.key.toString()})` : "";
    return `\t[${permission.key.toString()}, ${printable(permission.rangeEnd)})${prefixNote}`;
  };
  const reads = permissions.filter((permission) => permission.type !== "WRITE").map(describe);
  const writes = permissions.filter((permission) => permission.type !== "READ").map(describe);
  return [`Role ${name}`, "KV Read:", ...reads, "KV Write:", ...writes];
}

function printable(bytes: Buffer): string {
  return bytes.length === 1 && bytes[0] === 0 ? "<open ended>" : bytes.toString();
}

function permissionJson(permission: Permission): object {
  return { permType: permission.type, key: permission.key.toString("base64"), range_end: permission.rangeEnd.toString("base64") };
}
