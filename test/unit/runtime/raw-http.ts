// A raw HTTP/1.1 exchange over a plain TCP socket, for sending what no well-behaved client would
// (bad methods, header bytes, chunk encodings, slow bodies) and reading the single answer.
import net from 'node:net';

/** Bytes to write, or a pause between writes. */
export type RawPart = string | Buffer | { pauseMs: number };

export interface RawAnswer {
  /** HTTP status of the first final response; 0 = the connection closed without one; -1 = timed out. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received, as text (for leak checks). */
  text: string;
}

/**
 * Connects, writes `parts` in order (stopping as soon as an answer starts arriving, like a client
 * that notices its request was refused), and resolves with the first final response (1xx
 * interim responses skipped), or what the connection gave before closing or `timeoutMs`.
 */
export function rawExchange(port: number, parts: RawPart[], opts: { timeoutMs?: number; head?: boolean } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let settled = false;
    const done = (status: number | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(
        parse(received, status, opts.head ?? false) ?? { status: status ?? 0, headers: {}, body: '', text: received.toString('latin1') },
      );
    };
    const timer = setTimeout(() => done(-1), opts.timeoutMs ?? 5000);
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      const answer = parse(received, undefined, opts.head ?? false);
      if (answer?.complete) done(answer.status);
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(undefined));
    socket.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          if (settled || received.length > 0 || socket.destroyed) return;
          if (typeof p === 'object' && !Buffer.isBuffer(p)) {
            await new Promise((r) => setTimeout(r, p.pauseMs));
            continue;
          }
          await new Promise<void>((r) => socket.write(p, () => r()));
        }
      })();
    });
  });
}

/** Parses the first final response in `buf`; `complete` once its body (by content-length) is in. */
function parse(buf: Buffer, fallback: number | undefined, head: boolean): (RawAnswer & { complete: boolean }) | undefined {
  let text = buf.toString('latin1');
  for (;;) {
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return fallback === undefined ? undefined : { status: fallback, headers: {}, body: '', text, complete: false };
    const lines = text.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) return { status: fallback ?? 0, headers: {}, body: '', text, complete: false };
    const status = Number(m[1]);
    if (status >= 100 && status < 200) {
      text = text.slice(end + 4);
      continue;
    }
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const body = text.slice(end + 4);
    const length = head ? 0 : Number(headers['content-length'] ?? NaN);
    return {
      status,
      headers,
      body,
      text: buf.toString('latin1'),
      complete: Number.isFinite(length) && Buffer.byteLength(body, 'latin1') >= length,
    };
  }
}
