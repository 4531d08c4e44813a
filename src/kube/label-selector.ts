/**
 * Label selectors evaluated in the process, for an informer that follows a wider one (informer.ts):
 * the equality-based forms, comma-separated (all must hold) — `key`, `!key`, `key=value`,
 * `key==value`, `key!=value`. Set-based forms (`in`, `notin`, parentheses) are not parsed: they
 * give undefined, and such an informer keeps its own watch with the selector sent to the server.
 */

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

export function labelMatcher(selector: string): LabelMatcher | undefined {
  const terms: LabelMatcher[] = [];
  for (const raw of selector.split(',')) {
    const term = raw.trim();
    if (!term) return undefined;
    const m = /^(!?)([^=!]+)(?:(==|=|!=)(.*))?$/.exec(term);
    if (!m) return undefined;
    const [, not, rawKey, op, rawValue] = m;
    const key = rawKey.trim();
    const value = rawValue?.trim() ?? '';
    if (!KEY.test(key) || !VALUE.test(value) || (not && op)) return undefined;
    if (!op) terms.push(not ? (l) => l?.[key] === undefined : (l) => l?.[key] !== undefined);
    else if (op === '!=') terms.push((l) => l?.[key] !== value);
    else terms.push((l) => l?.[key] === value);
  }
  return terms.length ? (labels) => terms.every((t) => t(labels)) : undefined;
}
