/**
 * Defensive reading of what a client sends paddle-runtime: the request target, path segments and
 * the JSON body. Every malformed, oversized or truncated input becomes an HttpError with a 4xx
 * status, never an exception that escapes the request, and no message echoes the client's bytes
 * (a body or header may carry credentials).
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';

/** An answer to the client: status, a message safe to show, optional headers and extra body fields. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface RequestTarget {
  pathname: string;
  query: URLSearchParams;
}

/**
 * Splits an origin-form request target (`/path?query`). Anything else (absolute-form, `*`,
 * authority-form) is a 400: this server is never a proxy.
 */
export function parseTarget(raw: string | undefined): RequestTarget {
  const url = raw ?? '';
  if (!url.startsWith('/') || url.startsWith('//')) throw new HttpError(400, 'request target must be an absolute path');
  const q = url.indexOf('?');
  const pathname = q < 0 ? url : url.slice(0, q);
  // URLSearchParams never throws: malformed escapes are kept literally.
  const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
  return { pathname, query };
}

/** Percent-decodes one path segment; a malformed escape is a 400. */
export function decodeSegment(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, `${what} is not valid percent-encoding`);
  }
}

/**
 * Reads the whole body, at most `limit` bytes. A larger declared or streamed body is a 413 (the
 * rest is never read: the caller closes the connection); a connection that ends before the body
 * does is a 400. The request stream is only paused, never destroyed here, so the 413 can still be
 * written on its socket.
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    if (!/^\d{1,15}$/.test(declared)) return Promise.reject(new HttpError(400, 'invalid Content-Length'));
    if (Number(declared) > limit) return Promise.reject(new HttpError(413, `body larger than ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: HttpError | undefined): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
      if (err) {
        req.pause();
        reject(err);
      } else {
        resolve(Buffer.concat(chunks, size));
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return finish(new HttpError(413, `body larger than ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(undefined);
    const onClose = (): void => finish(new HttpError(400, 'the connection ended before the whole body was received'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}

/** Reads and parses a JSON body (400 when empty or not JSON, whatever the nesting depth). */
export async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readBody(req, limit)).toString('utf8');
  if (!text.trim()) throw new HttpError(400, 'empty body');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // the parser's message quotes the input: never echo it
    throw new HttpError(400, 'body is not valid JSON');
  }
}

/**
 * Answers a request Node's HTTP parser refused (bad method, header, chunk encoding, oversized
 * headers, a request or header timeout) on the raw socket and closes it, as Node's default would,
 * but with a JSON body and without echoing anything. Returns the status sent (0: socket dropped).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): number {
  const code = err.code ?? '';
  // the response to a request may already be on its way: a raw status line would corrupt it
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return 0;
  }
  const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify({
    error: status === 408 ? 'request timed out' : status === 431 ? 'request headers too large' : 'malformed HTTP request',
  });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  // a peer that never reads must not keep the socket open
  setTimeout(() => socket.destroy(), 1000).unref();
  return status;
}
