/** An error answered by the Kubernetes API (or a transport failure, code 0). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.code === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409;
}
export function isAlreadyExists(e: unknown): boolean {
  return e instanceof ApiError && e.code === 409 && e.reason === 'AlreadyExists';
}
export function isGone(e: unknown): boolean {
  return e instanceof ApiError && e.code === 410;
}
export function isForbidden(e: unknown): boolean {
  return e instanceof ApiError && e.code === 403;
}
