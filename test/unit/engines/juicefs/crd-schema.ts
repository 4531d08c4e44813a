// Reads the CRD schemas of crds/ for the engine tests that check the engine against them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** A CEL rule in `x-kubernetes-validations`. */
export interface CelRule {
  rule: string;
  message?: string;
}

/** An OpenAPI v3 schema node of a CRD (the fields the tests read; anything else is `unknown`). */
export interface Json {
  type?: string;
  description?: string;
  properties?: Record<string, Json>;
  items?: Json;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  pattern?: string;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: CelRule[];
  [key: string]: unknown;
}

const FILES = { SampleSet: 'batch.paddlepaddle.org_samplesets.yaml', SampleJob: 'batch.paddlepaddle.org_samplejobs.yaml' } as const;

/** The openAPIV3Schema of a kind. */
export function crdSchema(kind: keyof typeof FILES): Json {
  const crd = parse(readFileSync(path.join(process.cwd(), 'crds', FILES[kind]), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: Json } }[] };
  };
  return crd.spec.versions[0].schema.openAPIV3Schema;
}

/** Follows dotted property names (`[]` steps into array items). */
export function at(schema: Json, dotted: string): Json {
  let node: Json | undefined = schema;
  for (const step of dotted.split('.')) {
    node = step === '[]' ? node.items : node.properties?.[step];
    if (!node) throw new Error(`no schema at ${dotted} (${step})`);
  }
  return node;
}

/** The regular expression inside the first `matches('…')` of a CEL rule. */
export function celRegex(rule: string): string | undefined {
  const m = /matches\('((?:[^'\\]|\\.)*)'\)/.exec(rule);
  return m ? m[1].replace(/\\\\/g, '\\') : undefined;
}

/** The N of a `… <= N` CEL rule of a node (its combined-size limit). */
export function celUpperBound(node: Json, contains: string): number {
  for (const v of node['x-kubernetes-validations'] ?? []) {
    const rule = v.rule;
    const m = /<=\s*(\d+)\s*$/.exec(rule);
    if (rule.includes(contains) && m) return Number(m[1]);
  }
  throw new Error(`no "${contains} <= N" rule`);
}

/**
 * What the apiserver says about a value of a scalar field, as far as the schema's type, range,
 * length, pattern and the `matches` of its CEL rules go (a rule starting with `!` negates it).
 */
export function schemaAccepts(node: Json, value: unknown): boolean {
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  if (typeof value === 'boolean') return node.type === 'boolean';
  if (typeof value === 'number') {
    if (!(node.type === 'integer' || intOrString) || !Number.isInteger(value)) return false;
    return (node.minimum === undefined || value >= node.minimum) && (node.maximum === undefined || value <= node.maximum);
  }
  if (typeof value === 'string') {
    if (!(node.type === 'string' || intOrString)) return false;
    const runes = [...value].length;
    if (node.minLength !== undefined && runes < node.minLength) return false;
    if (node.maxLength !== undefined && runes > node.maxLength) return false;
    if (node.pattern !== undefined && !new RegExp(node.pattern).test(value)) return false;
    for (const v of node['x-kubernetes-validations'] ?? []) {
      const re = celRegex(v.rule);
      if (re === undefined) continue;
      const negated = v.rule.trimStart().startsWith('!');
      if (new RegExp(re).test(value) === negated) return false;
    }
    return true;
  }
  return false;
}
