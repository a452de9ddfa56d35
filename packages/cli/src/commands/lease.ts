/**
 * `raftkv lease grant|revoke|keep-alive|timetolive|list`: leases, with ids
 * in hex as etcdctl prints them.
 */
import type { LeaseTimeToLive } from "@raftkv/client";
import type { Command } from "commander";
import { hexId, positiveWholeNumber, toHex } from "../arguments.js";
import { SilentExit } from "../errors.js";
import { headerJson } from "../json-shapes.js";
import { show, tableOf, type Rendering } from "../output.js";
import { withClient, type Session } from "../session.js";
import { firstAborted, shutdownSignal } from "../signals.js";

const EXAMPLES = `
Examples:
  raftkv lease grant 30                       prints: lease 712be8a582fca granted with TTL(30s)
  raftkv put session/42 alive --lease 712be8a582fca
  raftkv lease keep-alive 712be8a582fca       renew until Ctrl-C
  raftkv lease timetolive 712be8a582fca --keys
  raftkv lease revoke 712be8a582fca           deletes session/42 too`;

export function registerLease(program: Command): void {
  const lease = program.command("lease").description("grant, renew, inspect and revoke leases").addHelpText("after", EXAMPLES);
  lease
    .command("grant")
    .argument("<ttl>", "seconds", positiveWholeNumber)
    .description("create a lease that ends <ttl> seconds after its last renewal")
    .action((ttl: number, _flags: unknown, command: Command) => withClient(command, (session) => grant(session, ttl)));
  lease
    .command("revoke")
    .argument("<id>", "the lease, in hex", hexId)
    .description("end a lease now, deleting every key bound to it")
    .action((id: number, _flags: unknown, command: Command) => withClient(command, (session) => revoke(session, id)));
  lease
    .command("keep-alive")
    .argument("<id>", "the lease, in hex", hexId)
    .description("renew a lease until Ctrl-C (exit 0) or until it is lost (exit 1)")
    .option("--once", "renew once and exit")
    .action((id: number, flags: { once?: boolean }, command: Command) => withClient(command, (session) => keepAlive(session, id, flags.once ?? false)));
  lease
    .command("timetolive")
    .argument("<id>", "the lease, in hex", hexId)
    .description("show a lease's granted and remaining TTL")
    .option("--keys", "also list the keys bound to it")
    .action((id: number, flags: { keys?: boolean }, command: Command) =>
      withClient(command, async ({ client, options }) => show(options.writeOut, timeToLiveRendering(await client.lease.timeToLive(id, flags)))),
    );
  lease
    .command("list")
    .description("list the ids of every lease")
    .action((_flags: unknown, command: Command) => withClient(command, list));
}

async function grant({ client, options }: Session, ttl: number): Promise<void> {
  const granted = await client.lease.grant(ttl);
  show(options.writeOut, {
    json: () => ({ header: headerJson(granted.header), ID: granted.id, TTL: granted.ttl }),
    simple: () => [`lease ${toHex(granted.id)} granted with TTL(${granted.ttl}s)`],
  });
}

async function revoke({ client, options }: Session, id: number): Promise<void> {
  const header = await client.lease.revoke(id);
  show(options.writeOut, { json: () => ({ header: headerJson(header) }), simple: () => [`lease ${toHex(id)} revoked`] });
}

/**
 * Renews once here (to fail at once on a lease that is gone, and to learn
 * its TTL), then leaves the renewing to the client's keep-alive loop,
 * printing each renewal as etcdctl does.
 */
async function keepAlive({ client, options }: Session, id: number, once: boolean): Promise<void> {
  const { ttl } = await client.lease.keepAliveOnce(id);
  show(options.writeOut, renewalRendering(id, ttl));
  if (ttl <= 0) throw new SilentExit(1);
  if (once) return;
  const loop = client.lease.keepAlive(id, ttl);
  loop.on("renewed", (renewedTtl) => show(options.writeOut, renewalRendering(id, renewedTtl)));
  await firstAborted(shutdownSignal(), loop.lost);
  await loop.close();
  if (loop.lost.aborted) throw loop.lost.reason;
}

function renewalRendering(id: number, ttl: number): Rendering {
  return {
    json: () => ({ ID: id, TTL: ttl }),
    simple: () => [ttl > 0 ? `lease ${toHex(id)} keepalived with TTL(${ttl})` : `lease ${toHex(id)} expired or revoked`],
  };
}

function timeToLiveRendering(lease: LeaseTimeToLive) {
  const keys = lease.keys.map((key) => key.toString());
  return {
    json: () => ({
      header: headerJson(lease.header),
      ID: lease.id,
      TTL: lease.ttl,
      grantedTTL: lease.grantedTtl,
      keys: lease.keys.map((key) => key.toString("base64")),
    }),
    simple: () => [
      lease.ttl < 0
        ? `lease ${toHex(lease.id)} already expired`
        : `lease ${toHex(lease.id)} granted with TTL(${lease.grantedTtl}s), remaining(${lease.ttl}s)${keys.length > 0 ? `, attached keys([${keys.join(" ")}])` : ""}`,
    ],
  };
}

async function list({ client, options }: Session): Promise<void> {
  const { header, ids } = await client.lease.list();
  show(options.writeOut, {
    json: () => ({ header: headerJson(header), leases: ids.map((id) => ({ ID: id })) }),
    simple: () => [`found ${ids.length} leases`, ...ids.map(toHex)],
    table: () => tableOf(ids, [["LEASE ID", toHex]]),
  });
}
