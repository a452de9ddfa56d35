/**
 * `cluster up --tls`: the same local cluster with https:// client and peer
 * URLs. A throw-away CA and a certificate per node (and one for clients)
 * are made with openssl in <data-dir>/tls on the first start and reused
 * after; each node serves its own to clients and shows it to the other
 * nodes, which speak mutual TLS (--peer-client-cert-auth with the CA), and
 * the banner shows curl and raftkv with the CA.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ServeFlagValues } from "../serve-flags.js";
import { makeCa, makeCertificate, type KeyPair } from "./certificates.js";
import { initialClusterOf, type ClusterPlan, type MemberPlan } from "./plan.js";

export interface SecurePlan {
  readonly plan: ClusterPlan;
  /** The CA that signed every node's certificate: what clients verify them with. */
  readonly caFile: string;
  /** A certificate for clients, for trying --client-cert-auth. */
  readonly client: KeyPair;
  flagsFor(member: MemberPlan): ServeFlagValues;
}

export async function securePlan(plan: ClusterPlan): Promise<SecurePlan> {
  const dir = join(plan.dataDir, "tls");
  const members = plan.members.map((member) => ({
    ...member,
    clientUrl: member.clientUrl.replace(/^http:/, "https:"),
    peerUrl: member.peerUrl.replace(/^http:/, "https:"),
  }));
  const pairOf = (name: string): KeyPair => ({ certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) });
  if (!existsSync(pairOf("ca").certFile)) {
    await mkdir(dir, { recursive: true });
    const ca = await makeCa(dir, "ca");
    for (const member of members) await makeCertificate(dir, ca, member.name);
    await makeCertificate(dir, ca, "client");
  }
  const caFile = pairOf("ca").certFile;
  return {
    plan: { ...plan, members, initialCluster: initialClusterOf(members) },
    caFile,
    client: pairOf("client"),
    flagsFor: (member) => {
      const own = pairOf(member.name);
      return {
        "cert-file": own.certFile,
        "key-file": own.keyFile,
        "trusted-ca-file": caFile,
        "peer-cert-file": own.certFile,
        "peer-key-file": own.keyFile,
        "peer-trusted-ca-file": caFile,
        "peer-client-cert-auth": "true",
      };
    },
  };
}
