/**
 * TLS for the client listener, with etcd's flags: a certificate and key,
 * optionally a CA whose signature client certificates need
 * (--client-cert-auth), or a self-signed certificate made at start-up
 * (--auto-tls, with Debian's openssl). Certificates are checked before the
 * member starts (an unreadable file or a key that does not match its
 * certificate stops it with a message naming the files) and read again
 * when their files change, so operators rotate them without a restart;
 * a rotation that does not load is logged and the old certificate kept.
 *
 * With --client-cert-auth the certificate is checked at the handshake. On
 * the JSON gateway its CommonName is not the user (etcd 3.4 ignores it
 * there too); a request needs a token when auth is on. A gRPC call without
 * a token is the CommonName's user, as in etcd (grpc/services.ts). The
 * client listeners end TLS themselves and route by ALPN
 * (grpc/listener.ts).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, unwatchFile, watchFile } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext, type Server as TlsServer } from "node:tls";
import { promisify } from "node:util";
import type { Logger } from "pino";
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

export class TlsConfigError extends Error {
  override readonly name = "TlsConfigError";
}

interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
  readonly clientCertAuth: boolean;
}

/** How often a certificate file is looked at for changes. */
const WATCH_INTERVAL_MS = 1_000;

export class ClientTls {
  private watching: string[] = [];

  private constructor(
    private readonly files: CertificateFiles,
    readonly options: ServerTlsOptions,
    private readonly autoTls: boolean,
  ) {}

  /** Reads and checks the certificate (making one with --auto-tls); throws TlsConfigError naming what is wrong. */
  static async load(config: ClientTlsConfig, dataDir: string): Promise<ClientTls> {
    const own = config.certFile !== "" ? config : { ...config, ...(await autoCertificate(join(dataDir, "fixtures", "client"))) };
    return new ClientTls(own, readOptions(own), config.certFile === "");
  }

  /** The options this member connects to other members' client URLs with (see MemberClientTls). */
  memberClientOptions(): MemberClientTls {
    const { ca, cert, key } = this.options;
    return { ...(ca ? { ca } : {}), cert, key, rejectUnauthorized: this.files.trustedCaFile !== "" || !this.autoTls };
  }

  /** Serves later handshakes with the files' new contents whenever they change. */
  watch(server: TlsServer, logger: Logger): void {
    const reload = (): void => {
      try {
        server.setSecureContext(readOptions(this.files));
        logger.info({ certFile: this.files.certFile }, "client certificate reloaded");
      } catch (error) {
        logger.warn({ err: error }, "a changed client certificate could not be loaded: the previous one stays in use");
      }
    };
    this.watching = [this.files.certFile, this.files.keyFile, this.files.trustedCaFile].filter((file) => file !== "");
    for (const file of this.watching) watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, reload);
  }

  stop(): void {
    for (const file of this.watching) unwatchFile(file);
    this.watching = [];
  }
}

function readOptions({ certFile, keyFile, trustedCaFile, clientCertAuth }: CertificateFiles): ServerTlsOptions {
  const options: ServerTlsOptions = {
    cert: readPem(certFile, "--cert-file"),
    key: readPem(keyFile, "--key-file"),
    ...(trustedCaFile !== "" ? { ca: readPem(trustedCaFile, "--trusted-ca-file") } : {}),
    requestCert: clientCertAuth,
    rejectUnauthorized: clientCertAuth,
  };
  try {
    createSecureContext(options);
  } catch (error) {
    throw new TlsConfigError(`cannot use --cert-file ${certFile} with --key-file ${keyFile}: ${(error as Error).message}`);
  }
  return options;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsConfigError(`${flag} ${file} cannot be read: ${(error as Error).message}`);
  }
}

/** etcd's --auto-tls: a self-signed certificate for this member, kept in the data directory and reused. */
async function autoCertificate(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  await mkdir(dir, { recursive: true });
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "365"];
  const names = ["-subj", "/CN=raftkv", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"];
  try {
    await promisify(execFile)("openssl", [...args, ...names, "-keyout", keyFile, "-out", certFile]);
  } catch (error) {
    throw new TlsConfigError(`--auto-tls could not make a certificate with openssl: ${(error as Error).message}`);
  }
  return { certFile, keyFile };
}
