// One TLS handshake as a webhook's client makes it: trusting only the given CA bundle (what a
// webhook configuration's caBundle holds) and checking the server's name.
import tls from 'node:tls';

export interface HandshakeOptions {
  port: number;
  /** PEM bundle of the CAs to trust (nothing else is trusted). */
  ca: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** The DNS name the certificate must carry (SNI too); without it the host (an IP) is checked. */
  servername?: string;
  timeoutMs?: number;
}

/** Resolves with undefined when the handshake verified, else with the error code (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
export function tlsHandshake(opts: HandshakeOptions): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: opts.host ?? '127.0.0.1', port: opts.port, ca: opts.ca, servername: opts.servername });
    const done = (result: string | undefined): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(opts.timeoutMs ?? 5000, () => done('TIMEOUT'));
    socket.once('secureConnect', () => done(undefined));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}
