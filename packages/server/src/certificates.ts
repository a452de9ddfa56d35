/**
 * Certificate files, as the client listener (http/tls.ts) and the peer
 * transport (peer-tls.ts) both use them: read and checked before the member
 * starts (an unreadable file or a key that does not match its certificate
 * stops it with a message naming the flags and files), read again whenever
 * a file changes, so that operators rotate certificates without a restart
 * (a rotation that does not load is logged and the old certificates kept),
 * and etcd's auto-TLS certificate, self-signed with Debian's openssl.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, unwatchFile, watchFile } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { promisify } from "node:util";
import type { Logger } from "pino";

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Empty: no CA of our own (the system's CAs). */
  readonly trustedCaFile: string;
}

/** The flags that name the files, for messages: `--peer-cert-file`, say. */
export interface CertificateFlags {
  readonly cert: string;
  readonly key: string;
  readonly trustedCa: string;
  /** etcd's auto-TLS flag of the same listener. */
  readonly autoTls: string;
}

/** The files' contents, as node:tls takes them. */
export interface CertificatePem {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

export class TlsConfigError extends Error {
  override readonly name = "TlsConfigError";
}

/** How often a certificate file is looked at for changes. */
const WATCH_INTERVAL_MS = 1_000;

/** Reads and checks the files; throws TlsConfigError naming the flag and file that is wrong. */
export function readCertificates({ certFile, keyFile, trustedCaFile }: CertificateFiles, flags: CertificateFlags): CertificatePem {
  const pem: CertificatePem = {
    cert: readPem(certFile, flags.cert),
    key: readPem(keyFile, flags.key),
    ...(trustedCaFile !== "" ? { ca: readPem(trustedCaFile, flags.trustedCa) } : {}),
  };
  try {
    createSecureContext(pem);
  } catch (error) {
    throw new TlsConfigError(`cannot use ${flags.cert} ${certFile} with ${flags.key} ${keyFile}: ${(error as Error).message}`);
  }
  return pem;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsConfigError(`${flag} ${file} cannot be read: ${(error as Error).message}`);
  }
}

/**
 * Calls `use` with the files' new contents whenever one of them changes and
 * they load; `what` names them in the log ("client", "peer"). Returns the
 * function that stops watching.
 */
export function watchCertificates(
  files: CertificateFiles,
  flags: CertificateFlags,
  use: (pem: CertificatePem) => void,
  { logger, what }: { logger: Logger; what: string },
): () => void {
  const reload = (): void => {
    try {
      use(readCertificates(files, flags));
      logger.info({ certFile: files.certFile }, `${what} certificate reloaded`);
    } catch (error) {
      logger.warn({ err: error }, `a changed ${what} certificate could not be loaded: the previous one stays in use`);
    }
  };
  const watched = [files.certFile, files.keyFile, files.trustedCaFile].filter((file) => file !== "");
  for (const file of watched) watchFile(file, { interval: WATCH_INTERVAL_MS, persistent: false }, reload);
  return () => {
    for (const file of watched) unwatchFile(file, reload);
  };
}

/**
 * The files as given or, with no certificate file given, etcd's auto-TLS: a
 * self-signed certificate for this member, made in `autoDir` and reused.
 */
export async function certificateFilesOrAuto(given: CertificateFiles, autoDir: string, flags: CertificateFlags): Promise<CertificateFiles> {
  if (given.certFile !== "") return given;
  const certFile = join(autoDir, "cert.pem");
  const keyFile = join(autoDir, "key.pem");
  if (existsSync(certFile) && existsSync(keyFile)) return { ...given, certFile, keyFile };
  await mkdir(autoDir, { recursive: true });
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "365"];
  const names = ["-subj", "/CN=raftkv", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"];
  try {
    await promisify(execFile)("openssl", [...args, ...names, "-keyout", keyFile, "-out", certFile]);
  } catch (error) {
    throw new TlsConfigError(`${flags.autoTls} could not make a certificate with openssl: ${(error as Error).message}`);
  }
  return { ...given, certFile, keyFile };
}
