import winston from 'winston';
import { maskUriUserinfo } from './scrub.js';

export type Logger = winston.Logger;
export type LogFormat = 'json' | 'text';

/** Keys whose values never reach a log line, whatever object they sit in. */
const SECRET_KEYS = /^(token|password|secret|secret-key|secretKey|access-key|accessKey|authorization|credentials|metaurl|meta-url|data)$/i;

/**
 * Replaces secret-looking values with "[redacted]" and masks the userinfo of every URI in strings
 * (`scheme://****@host`) (deep, on a copy).
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskUriUserinfo(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.test(k) && v !== undefined && v !== '' ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info) => {
  if (typeof info.message === 'string') info.message = maskUriUserinfo(info.message);
  for (const k of Object.keys(info)) {
    if (k === 'level' || k === 'message') continue;
    const v = (info as Record<string, unknown>)[k];
    (info as Record<string, unknown>)[k] = SECRET_KEYS.test(k) && v !== undefined && v !== '' ? '[redacted]' : redact(v);
  }
  return info;
});

/**
 * JSON lines in production (`level`, `msg`, `time` and the structured fields), a readable single
 * line in development.
 */
export function createLogger(opts: { level?: string; format?: LogFormat; silent?: boolean } = {}): Logger {
  const json = winston.format.combine(
    redactFormat(),
    winston.format.timestamp({ alias: 'time' }),
    winston.format((info) => {
      (info as Record<string, unknown>).msg = info.message;
      delete (info as Record<string, unknown>).message;
      delete (info as Record<string, unknown>).timestamp;
      return info;
    })(),
    winston.format.json(),
  );
  const text = winston.format.combine(
    redactFormat(),
    winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
    winston.format.printf((info) => {
      const { level, message, timestamp, ...rest } = info as Record<string, unknown>;
      const fields = Object.entries(rest)
        .filter(([k]) => typeof k === 'string')
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      return `${String(timestamp)} ${String(level).toUpperCase().padEnd(5)} ${String(message)}${fields ? ' ' + fields : ''}`;
    }),
  );
  return winston.createLogger({
    level: opts.level ?? 'info',
    silent: opts.silent,
    format: opts.format === 'text' ? text : json,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}
