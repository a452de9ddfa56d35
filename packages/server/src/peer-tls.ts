/**
 * TLS between members, with etcd's flags: the certificate this member shows
 * (--peer-cert-file, --peer-key-file, or a self-signed one with
 * --peer-auto-tls), the CA members' certificates need (--peer-trusted-ca-file
 * with --peer-client-cert-auth) and the CN they must carry
 * (--peer-cert-allowed-cn). The files are read here, never by the transport,
 * and handed to it again whenever they change (see certificates.ts).
 */
import { join } from "node:path";
import type { PeerTls, Transport } from "@raftkv/transport";
import type { Logger } from "pino";
import { certificateFilesOrAuto, readCertificates, watchCertificates, type CertificateFiles, type CertificateFlags } from "./certificates.js";
import type { PeerTlsConfig } from "./config.js";

const PEER_FLAGS: CertificateFlags = {
  cert: "--peer-cert-file",
  key: "--peer-key-file",
  trustedCa: "--peer-trusted-ca-file",
  autoTls: "--peer-auto-tls",
};

export class PeerCertificateFiles {
  private constructor(
    private readonly files: CertificateFiles,
    /** What the transport is made with. */
    readonly tls: PeerTls,
  ) {}

  /** Reads and checks the certificate (making one with --peer-auto-tls); throws TlsConfigError naming what is wrong. */
  static async load(config: PeerTlsConfig, dataDir: string): Promise<PeerCertificateFiles> {
    const selfSigned = config.peerCertFile === "";
    const given = { certFile: config.peerCertFile, keyFile: config.peerKeyFile, trustedCaFile: config.peerTrustedCaFile };
    // etcd keeps its auto-TLS peer certificate in the same place.
    const files = await certificateFilesOrAuto(given, join(dataDir, "fixtures", "peer"), PEER_FLAGS);
    return new PeerCertificateFiles(files, {
      ...readCertificates(files, PEER_FLAGS),
      requirePeerCertificate: config.peerClientCertAuth,
      // A self-signed certificate proves nothing to check, as with etcd's --peer-auto-tls.
      verifyAcceptor: !selfSigned || config.peerTrustedCaFile !== "",
      ...(config.peerCertAllowedCn !== "" ? { allowedCommonName: config.peerCertAllowedCn } : {}),
    });
  }

  /** Gives `transport` the files' new contents whenever they change; returns the function that stops watching. */
  watch(transport: Transport, logger: Logger): () => void {
    return watchCertificates(this.files, PEER_FLAGS, (pem) => transport.replaceCertificates(pem), { logger, what: "peer" });
  }
}
