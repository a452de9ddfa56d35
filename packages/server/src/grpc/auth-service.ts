/**
 * etcd's Auth service (all of etcd 3.4's methods; AuthStatus came with 3.5)
 * over the auth service the gateway uses too: each call passes its caller's
 * identity, and the auth service decides.
 */
import type * as grpc from "@grpc/grpc-js";
import { unary } from "./calls.js";
import * as codec from "./codec.js";
import type { Decoded } from "./codec.js";
import type { GrpcServices } from "./services.js";

type Handlers = grpc.UntypedServiceImplementation;

export function authService({ admit, admitAnyone, auth }: GrpcServices): Handlers {
  return {
    AuthEnable: unary(admit, async (_m, { identity }) => codec.headerOnly(await auth.enable(identity))),
    AuthDisable: unary(admit, async (_m, { identity }) => codec.headerOnly(await auth.disable(identity))),
    Authenticate: unary(admitAnyone, async (m: Decoded) => {
      const { header, token } = await auth.authenticate(m.name, m.password);
      return { header: codec.encodeHeader(header), token };
    }),
    UserAdd: unary(admit, async (m: Decoded, { identity }) =>
      codec.headerOnly(await auth.userAdd(identity, m.name, m.password, m.options?.no_password ?? false)),
    ),
    UserGet: unary(admit, async (m: Decoded, { identity }) => {
      const { header, roles } = await auth.userGet(identity, m.name);
      return { header: codec.encodeHeader(header), roles };
    }),
    UserList: unary(admit, async (_m, { identity }) => {
      const { header, users } = await auth.userList(identity);
      return { header: codec.encodeHeader(header), users };
    }),
    UserDelete: unary(admit, async (m: Decoded, { identity }) => codec.headerOnly(await auth.userDelete(identity, m.name))),
    UserChangePassword: unary(admit, async (m: Decoded, { identity }) => codec.headerOnly(await auth.userChangePassword(identity, m.name, m.password))),
    UserGrantRole: unary(admit, async (m: Decoded, { identity }) => codec.headerOnly(await auth.userGrantRole(identity, m.user, m.role))),
    UserRevokeRole: unary(admit, async (m: Decoded, { identity }) => codec.headerOnly(await auth.userRevokeRole(identity, m.name, m.role))),
    RoleAdd: unary(admit, async (m: Decoded, { identity }) => codec.headerOnly(await auth.roleAdd(identity, m.name))),
    RoleGet: unary(admit, async (m: Decoded, { identity }) => {
      const { header, permissions } = await auth.roleGet(identity, m.role);
      return { header: codec.encodeHeader(header), perm: permissions.map(codec.encodePermission) };
    }),
    RoleList: unary(admit, async (_m, { identity }) => {
      const { header, roles } = await auth.roleList(identity);
      return { header: codec.encodeHeader(header), roles };
    }),
    RoleDelete: unary(admit, async (m: Decoded, { identity }) => codec.headerOnly(await auth.roleDelete(identity, m.role))),
    RoleGrantPermission: unary(admit, async (m: Decoded, { identity }) =>
      codec.headerOnly(await auth.roleGrantPermission(identity, m.name, m.perm ? codec.decodePermission(m.perm) : undefined)),
    ),
    RoleRevokePermission: unary(admit, async (m: Decoded, { identity }) =>
      codec.headerOnly(await auth.roleRevokePermission(identity, m.role, m.key, m.range_end)),
    ),
  };
}
