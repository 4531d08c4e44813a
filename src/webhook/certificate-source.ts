/** A PEM certificate chain and its private key, as a TLS server needs them. */
export interface ServingKeyPair {
  /** PEM: the serving (leaf) certificate, followed by any intermediates. */
  cert: string;
  /** PEM: the leaf's private key. */
  key: string;
}

/**
 * Where the webhook's HTTPS server gets its serving certificate. `current()` is undefined until a
 * first pair is available; `onChange` listeners run after every rotation, so a server can swap its
 * secure context without restarting and without failing an admission in flight.
 */
export interface CertificateSource {
  current(): ServingKeyPair | undefined;
  onChange(listener: (pair: ServingKeyPair) => void): void;
}
