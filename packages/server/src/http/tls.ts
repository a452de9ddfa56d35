/**
 * TLS for the client listener, with etcd's flags: a certificate and key,
 * optionally a CA whose signature client certificates need
 * (--client-cert-auth), or a self-signed certificate made at start-up
 * (--auto-tls). Files are checked, watched and reloaded as certificates.ts
 * says.
 *
 * With --client-cert-auth the certificate is checked at the handshake. On
 * the JSON gateway its CommonName is not the user (etcd 3.4 ignores it
 * there too); a request needs a token when auth is on. A gRPC call without
 * a token is the CommonName's user, as in etcd (grpc/services.ts). The
 * client listeners end TLS themselves and route by ALPN
 * (grpc/listener.ts).
 */
import { join } from "node:path";
import type { Server as TlsServer } from "node:tls";
import type { Logger } from "pino";
import { certificateFilesOrAuto, readCertificates, watchCertificates, type CertificateFiles, type CertificateFlags } from "../certificates.js";
import type { ClientTlsConfig } from "../config.js";

/** What node's https server takes. */
export interface ServerTlsOptions {
  readonly key: Buffer;
  readonly cert: Buffer;
  readonly ca?: Buffer;
  readonly requestCert: boolean;
  readonly rejectUnauthorized: boolean;
}

/**
 * How this member connects to another member's client URL (a leader-only
 * request forwarded to the leader): it trusts --trusted-ca-file and shows
 * its own certificate, for members with --client-cert-auth; with
 * --auto-tls there is no CA to trust, so, as etcd's auto-tls does, it does
 * not verify the other member's self-signed certificate.
 */
export interface MemberClientTls {
  readonly ca?: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly rejectUnauthorized: boolean;
}

const CLIENT_FLAGS: CertificateFlags = { cert: "--cert-file", key: "--key-file", trustedCa: "--trusted-ca-file", autoTls: "--auto-tls" };

export class ClientTls {
  /** One per server watching (the HTTP listener, say, and another on the same certificate). */
  private readonly stopWatching: (() => void)[] = [];

  private constructor(
    private readonly files: CertificateFiles,
    readonly options: ServerTlsOptions,
    private readonly autoTls: boolean,
  ) {}

  /** Reads and checks the certificate (making one with --auto-tls); throws TlsConfigError naming what is wrong. */
  static async load(config: ClientTlsConfig, dataDir: string): Promise<ClientTls> {
    const own = await certificateFilesOrAuto(config, join(dataDir, "fixtures", "client"), CLIENT_FLAGS);
    const options = { ...readCertificates(own, CLIENT_FLAGS), requestCert: config.clientCertAuth, rejectUnauthorized: config.clientCertAuth };
    return new ClientTls(own, options, config.certFile === "");
  }

  /** The options this member connects to other members' client URLs with (see MemberClientTls). */
  memberClientOptions(): MemberClientTls {
    const { ca, cert, key } = this.options;
    return { ...(ca ? { ca } : {}), cert, key, rejectUnauthorized: this.files.trustedCaFile !== "" || !this.autoTls };
  }

  /** Serves later handshakes with the files' new contents whenever they change. */
  watch(server: TlsServer, logger: Logger): void {
    this.stopWatching.push(watchCertificates(this.files, CLIENT_FLAGS, (pem) => server.setSecureContext(pem), { logger, what: "client" }));
  }

  stop(): void {
    for (const stop of this.stopWatching.splice(0)) stop();
  }
}
