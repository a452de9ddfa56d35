/**
 * Throw-away certificates for `cluster up --tls` and the TLS tests, made
 * with Debian's openssl (no hand-written ASN.1): a CA, and certificates it
 * signs for 127.0.0.1 and localhost, usable by servers and clients alike.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
}

const NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export async function makeCa(dir: string, name: string): Promise<KeyPair> {
  const pair = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  await run("openssl", ["req", "-x509", ...NEW_KEY, "-days", "2", "-subj", `/CN=${name}`, "-keyout", pair.keyFile, "-out", pair.certFile]);
  return pair;
}

/** A certificate `ca` signs, with `commonName` as its CN. */
export async function makeCertificate(dir: string, ca: KeyPair, name: string, commonName = name): Promise<KeyPair> {
  const pair = { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  const request = join(dir, `${name}.csr`);
  const extensions = join(dir, `${name}.ext`);
  await writeFile(extensions, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  await run("openssl", ["req", ...NEW_KEY, "-subj", `/CN=${commonName}`, "-keyout", pair.keyFile, "-out", request]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    request,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    extensions,
    "-out",
    pair.certFile,
  ]);
  return pair;
}
