/**
 * etcd's Auth service over the gateway: turning auth on and off, users,
 * roles and their key-range permissions. Changes are retried only when
 * they surely never reached a member (they carry no Idempotency-Key).
 */
import { fromBase64, toBase64, type Bytes } from "./bytes.js";
import type { CallOptions, Transport } from "./transport.js";
import { decodeHeader, parseJson, type ResponseHeader, type WireHeader } from "./wire.js";

export type PermissionType = "READ" | "WRITE" | "READWRITE";

export interface Permission {
  readonly type: PermissionType;
  readonly key: Buffer;
  /** Empty: the key alone; one zero byte: every key from `key` on; else [key, rangeEnd). */
  readonly rangeEnd: Buffer;
}

interface WireReply {
  readonly header?: WireHeader;
  readonly roles?: readonly string[];
  readonly users?: readonly string[];
  readonly perm?: readonly { permType?: PermissionType; key?: string; range_end?: string }[];
  readonly enabled?: boolean;
  readonly authRevision?: string;
}

export class AuthClient {
  constructor(private readonly transport: Transport) {}

  enable(options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/enable", {}, options);
  }

  disable(options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/disable", {}, options);
  }

  async status(options?: CallOptions): Promise<{ enabled: boolean; authRevision: number }> {
    const reply = await this.ask("/v3/auth/status", {}, options);
    return { enabled: reply.enabled ?? false, authRevision: Number(reply.authRevision ?? 0) };
  }

  userAdd(name: string, password: string, options?: CallOptions & { noPassword?: boolean }): Promise<ResponseHeader> {
    return this.change("/v3/auth/user/add", { name, password, options: { no_password: options?.noPassword ?? false } }, options);
  }

  userDelete(name: string, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/user/delete", { name }, options);
  }

  userChangePassword(name: string, password: string, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/user/changepw", { name, password }, options);
  }

  userGrantRole(user: string, role: string, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/user/grant", { user, role }, options);
  }

  userRevokeRole(name: string, role: string, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/user/revoke", { name, role }, options);
  }

  async userGet(name: string, options?: CallOptions): Promise<readonly string[]> {
    return (await this.ask("/v3/auth/user/get", { name }, options)).roles ?? [];
  }

  async userList(options?: CallOptions): Promise<readonly string[]> {
    return (await this.ask("/v3/auth/user/list", {}, options)).users ?? [];
  }

  roleAdd(name: string, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/role/add", { name }, options);
  }

  roleDelete(role: string, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/role/delete", { role }, options);
  }

  roleGrantPermission(name: string, type: PermissionType, key: Bytes, rangeEnd: Bytes, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/role/grant", { name, perm: { permType: type, key: toBase64(key), range_end: toBase64(rangeEnd) } }, options);
  }

  roleRevokePermission(role: string, key: Bytes, rangeEnd: Bytes, options?: CallOptions): Promise<ResponseHeader> {
    return this.change("/v3/auth/role/revoke", { role, key: toBase64(key), range_end: toBase64(rangeEnd) }, options);
  }

  async roleGet(role: string, options?: CallOptions): Promise<readonly Permission[]> {
    const reply = await this.ask("/v3/auth/role/get", { role }, options);
    return (reply.perm ?? []).map((perm) => ({ type: perm.permType ?? "READ", key: fromBase64(perm.key), rangeEnd: fromBase64(perm.range_end) }));
  }

  async roleList(options?: CallOptions): Promise<readonly string[]> {
    return (await this.ask("/v3/auth/role/list", {}, options)).roles ?? [];
  }

  private async change(path: string, body: unknown, options?: CallOptions): Promise<ResponseHeader> {
    const reply = await this.transport.call({ method: "POST", path, body: JSON.stringify(body), retry: "once" }, options);
    return decodeHeader(parseJson<WireReply>(reply.body).header);
  }

  private async ask(path: string, body: unknown, options?: CallOptions): Promise<WireReply> {
    const reply = await this.transport.call({ method: "POST", path, body: JSON.stringify(body), retry: "read" }, options);
    return parseJson<WireReply>(reply.body);
  }
}
