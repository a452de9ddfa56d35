/**
 * Mutual TLS between members, on node:tls. The server hands the transport
 * the certificate material (PEM already read) and the policy; the transport
 * reads no file and makes no certificate. It checks the other end of every
 * connection, both ways: the acceptor checks the dialer's certificate
 * before it reads a single frame, the dialer checks the acceptor's before
 * it takes the welcome.
 */
import { connect as netConnect, type Socket } from "node:net";
import {
  checkServerIdentity,
  connect as tlsConnect,
  createSecureContext,
  type PeerCertificate,
  type SecureContext,
  type SecureContextOptions,
  type TLSSocket,
  type TlsOptions,
} from "node:tls";
import type { PeerAddress } from "./framed-socket.js";
import { peerLookup } from "./peer-lookup.js";

/** What this member shows and whom it trusts: PEM, as the server read it. */
export interface PeerCertificates {
  readonly cert: Buffer | string;
  readonly key: Buffer | string;
  /** The CA that signs members' certificates; without it, the system's CAs. */
  readonly ca?: Buffer | string;
}

export interface PeerTls extends PeerCertificates {
  /** etcd's --peer-client-cert-auth: an acceptor refuses a dialer whose certificate `ca` did not sign. */
  readonly requirePeerCertificate: boolean;
  /**
   * Whether a dialer refuses an acceptor whose certificate `ca` did not sign
   * (or whose names do not match the address dialed). Off only for
   * self-signed certificates (etcd's --peer-auto-tls), which encrypt but
   * prove nothing.
   */
  readonly verifyAcceptor: boolean;
  /** etcd's --peer-cert-allowed-cn: the one CommonName a peer's certificate may carry, checked both ways. */
  readonly allowedCommonName?: string;
}

/** How a transport opens connections to its peers: plain TCP, or TLS with the current certificates. */
export interface Connector {
  open(address: PeerAddress): Socket;
}

/** Peer names are looked up off libuv's thread pool, with a deadline (see peer-lookup.ts). */
const lookup = peerLookup();

export const PLAIN_TCP: Connector = { open: ({ host, port }) => netConnect({ host, port, lookup }) };

/**
 * The TLS side of a transport. Certificates may be replaced while it runs:
 * connections opened afterwards, both ways, use the new ones; open ones
 * carry on.
 */
export class PeerSecurity implements Connector {
  private dialContext: SecureContext;

  constructor(private readonly policy: PeerTls) {
    if (policy.allowedCommonName !== undefined && !policy.requirePeerCertificate) {
      throw new Error("an allowed CommonName needs peer certificates to be required");
    }
    this.dialContext = createSecureContext(material(policy));
  }

  /** What the listener is made with. */
  listenerOptions(handshakeTimeoutMs: number): TlsOptions {
    return {
      ...material(this.policy),
      requestCert: this.policy.requirePeerCertificate,
      // The acceptor decides itself (see refusalOf), so that it can log why and tell the dialer.
      rejectUnauthorized: false,
      handshakeTimeout: handshakeTimeoutMs,
    };
  }

  /** Takes new certificates for later dials; returns what the listener takes them as (its setSecureContext). */
  replace(certificates: PeerCertificates): SecureContextOptions {
    const replaced = material(certificates);
    this.dialContext = createSecureContext(replaced);
    return replaced;
  }

  open({ host, port }: PeerAddress): Socket {
    return tlsConnect({
      host,
      port,
      lookup,
      secureContext: this.dialContext,
      rejectUnauthorized: this.policy.verifyAcceptor,
      checkServerIdentity: (hostname, certificate) => checkServerIdentity(hostname, certificate) ?? this.commonNameError(certificate),
    });
  }

  /** Why a dialer that completed the handshake may not speak to this member, or undefined if it may. */
  refusalOf(socket: TLSSocket): string | undefined {
    if (!this.policy.requirePeerCertificate) return undefined;
    const certificate = socket.getPeerCertificate();
    if (Object.keys(certificate).length === 0) return "the peer presented no certificate";
    if (!socket.authorized) {
      return `the peer certificate (CN ${commonNameOf(certificate)}) is not signed by the peer CA: ${String(socket.authorizationError)}`;
    }
    return this.commonNameError(certificate)?.message;
  }

  private commonNameError(certificate: PeerCertificate): Error | undefined {
    const allowed = this.policy.allowedCommonName;
    if (allowed === undefined || commonNameOf(certificate) === allowed) return undefined;
    return Object.assign(new Error(`the peer certificate's CN ${commonNameOf(certificate)} is not the allowed CN ${allowed}`), {
      code: "ERR_TLS_CN_NOT_ALLOWED",
    });
  }
}

function material({ cert, key, ca }: PeerCertificates): SecureContextOptions {
  return ca === undefined ? { cert, key } : { cert, key, ca };
}

function commonNameOf(certificate: PeerCertificate): string {
  const name: unknown = certificate.subject?.CN;
  return Array.isArray(name) ? name.join(",") : String(name ?? "(none)");
}
