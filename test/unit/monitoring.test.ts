// kustomize/monitoring: the ServiceMonitor scrapes the Service the manager ships, and every metric
// (and label) the alerts and the dashboard use is one the operator's /metrics really serves.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { Metrics } from '../../src/observability/metrics.js';

const DIR = 'kustomize/monitoring';
const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'on',
  'without',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

interface Json {
  [k: string]: unknown;
}

/** Every PromQL expression in the alerts and the dashboard, with where it came from. */
function expressions(): { where: string; expr: string }[] {
  const rule = YAML.parse(fs.readFileSync(path.join(DIR, 'prometheusrule.yaml'), 'utf8')) as {
    spec: { groups: { rules: { alert: string; expr: string }[] }[] };
  };
  const out = rule.spec.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
  const dash = JSON.parse(fs.readFileSync(path.join(DIR, 'paddle-operator-dashboard.json'), 'utf8')) as {
    panels: { title: string; targets: { expr: string }[] }[];
    templating: { list: { name: string; query: string }[] };
  };
  for (const p of dash.panels) for (const t of p.targets) out.push({ where: `panel ${p.title}`, expr: t.expr });
  for (const v of dash.templating.list) {
    const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.query);
    if (m) out.push({ where: `variable ${v.name}`, expr: `${m[1]}{${m[2]}=""}` });
  }
  return out;
}

/** The metric selectors of an expression: metric name and the label names its matchers use. */
function selectors(expr: string): { metric: string; labels: string[] }[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals
    .replace(/\[[^\]]*\]/g, '') // range selectors
    .replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // grouping labels
  const out: { metric: string; labels: string[] }[] = [];
  for (const m of bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    const [, name, matchers, call] = m;
    if (call || PROMQL_WORDS.has(name.toLowerCase())) continue;
    const labels = matchers ? [...matchers.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((x) => x[1]) : [];
    out.push({ metric: name, labels });
  }
  return out;
}

describe('kustomize/monitoring', () => {
  const kustomization = YAML.parse(fs.readFileSync(path.join(DIR, 'kustomization.yaml'), 'utf8')) as Json & {
    resources: string[];
    configMapGenerator: { files: string[] }[];
  };

  it('lists files that exist: a ServiceMonitor, a PrometheusRule and the Grafana dashboard', () => {
    const files = [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g) => g.files)];
    for (const f of files) expect(fs.existsSync(path.join(DIR, f)), f).to.equal(true);
    const kinds = kustomization.resources.map((f) => (YAML.parse(fs.readFileSync(path.join(DIR, f), 'utf8')) as { kind: string }).kind);
    expect(kinds.sort()).to.deep.equal(['PrometheusRule', 'ServiceMonitor']);
  });

  it('the ServiceMonitor selects the metrics Service of kustomize/manager by its labels and port name', () => {
    const sm = YAML.parse(fs.readFileSync(path.join(DIR, 'servicemonitor.yaml'), 'utf8')) as {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
    };
    const svc = YAML.parse(fs.readFileSync('kustomize/manager/metrics_service.yaml', 'utf8')) as {
      metadata: { labels: Record<string, string> };
      spec: { ports: { name: string }[] };
    };
    expect(svc.metadata.labels).to.include(sm.spec.selector.matchLabels);
    expect(svc.spec.ports.map((p) => p.name)).to.include(sm.spec.endpoints[0].port);
  });

  it('has the alerts a platform team expects', () => {
    const alerts = expressions()
      .filter((e) => e.where.startsWith('alert '))
      .map((e) => e.where.slice(6));
    expect(alerts).to.include.members([
      'PaddleSampleSetNotReady',
      'PaddleSampleJobFailed',
      'PaddleSampleSetLowCacheHitRatio',
      'PaddleSampleSetRuntimeUnreachable',
    ]);
  });

  it('uses only metrics and labels that /metrics serves', async () => {
    const m = new Metrics({ defaultMetrics: true });
    const served = new Set([...(await m.registry.metrics()).matchAll(/^# TYPE (\S+) /gm)].map((x) => x[1]));
    const labelsOf = (name: string): string[] => {
      const metric = m.registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
      return [...(metric?.labelNames ?? []), ...(name.endsWith('_bucket') ? ['le'] : [])];
    };
    const wrong: string[] = [];
    let count = 0;
    for (const { where, expr } of expressions()) {
      for (const { metric, labels } of selectors(expr)) {
        count++;
        const base = HISTOGRAM_SUFFIXES.reduce(
          (n, s) => (n.endsWith(s) && served.has(n.slice(0, -s.length)) ? n.slice(0, -s.length) : n),
          metric,
        );
        if (!served.has(base)) {
          wrong.push(`${where}: ${metric} is not served`);
          continue;
        }
        const known = new Set([...labelsOf(base), ...(metric !== base ? ['le'] : [])]);
        for (const l of labels) if (!known.has(l)) wrong.push(`${where}: ${metric} has no label ${l}`);
      }
    }
    expect(wrong).to.deep.equal([]);
    expect(count).to.be.greaterThan(15);
  });

  it('the selector parser finds metrics and their labels (and would catch an unknown one)', () => {
    expect(selectors('sum by (namespace, name) (rate(foo_total{a="x", b!~"y"}[5m])) > 0 and on (name) bar')).to.deep.equal([
      { metric: 'foo_total', labels: ['a', 'b'] },
      { metric: 'bar', labels: [] },
    ]);
  });
});
