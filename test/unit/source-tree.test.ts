import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';

/** Every `.ts` file below `dir`. */
function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The relative modules a file imports or re-exports, as paths of their `.ts` sources. */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => path.join(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

/** The source tree as a newcomer reads it: no dead modules, no pointers to documents it does not hold. */
describe('source tree', () => {
  const files = sources('src');

  it('every module under src is imported: from an entry point (src/bin), a test, or another module', () => {
    const seen = new Set<string>();
    const todo = [...files.filter((f) => f.startsWith(path.join('src', 'bin') + path.sep)), ...sources('test')];
    while (todo.length) {
      const f = todo.pop()!;
      if (seen.has(f) || !fs.existsSync(f)) continue;
      seen.add(f);
      todo.push(...importsOf(f));
    }
    const unreached = files.filter((f) => !seen.has(f));
    expect(unreached).to.deep.equal([]);
  });

  // Layers run one way: each folder lists what it may import besides itself. The wire protocol and
  // the runtime command line live in src/api so both sides import them; engines build on their
  // toolkit; the runtime server hosts engines; operators see only the engine interfaces.
  const layers: [string, string[]][] = [
    ['src/api/', []],
    ['src/observability/', ['src/api/']],
    ['src/kube/', ['src/api/', 'src/observability/']],
    ['src/engines/toolkit/', ['src/api/', 'src/observability/']],
    ['src/engines/', ['src/api/', 'src/observability/']],
    ['src/config/', ['src/api/', 'src/observability/', 'src/engines/toolkit/', 'src/webhook/certificates/settings.ts']],
    ['src/runtime/', ['src/api/', 'src/observability/', 'src/engines/']],
    ['src/operators/', ['src/api/', 'src/observability/', 'src/kube/', 'src/engines/cache-engine.ts', 'src/engines/registry.ts']],
    // self-managed webhook certificates: Kubernetes plumbing and the one interface the webhook server reads
    ['src/webhook/certificates/', ['src/api/', 'src/observability/', 'src/kube/', 'src/webhook/certificate-source.ts']],
    // the pod admission webhook places pods as the PaddleJob operator does (operators/shared/cache-placement.ts)
    [
      'src/webhook/',
      ['src/api/', 'src/observability/', 'src/kube/', 'src/engines/cache-engine.ts', 'src/engines/registry.ts', 'src/operators/shared/'],
    ],
  ];
  it('layers import one way (api ← observability ← kube, engines/toolkit ← engines ← runtime; operators see engine interfaces only)', () => {
    const wrong: string[] = [];
    for (const f of files) {
      const layer = layers.find(([dir]) => f.startsWith(dir));
      if (!layer) continue;
      const [dir, allowed] = layer;
      for (const t of importsOf(f)) {
        if (t.startsWith(dir) || allowed.some((a) => t.startsWith(a))) continue;
        wrong.push(`${f} -> ${t}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('one list of installed engines, read by both entry points', () => {
    const users = files.filter((f) => /engines\/installed\.js'/.test(fs.readFileSync(f, 'utf8'))).sort();
    expect(users).to.deep.equal(['src/container.ts', 'src/runtime/main.ts']);
    const registering = files.filter((f) => f !== 'src/engines/installed.ts' && /\.(install|register)\(/.test(fs.readFileSync(f, 'utf8')));
    expect(registering).to.deep.equal(['src/engines/registry.ts']);
  });

  it('no comment cites a specification section that is not in the repository', () => {
    const cites = files.filter((f) => /\bSPEC\s*§|\(§\d/.test(fs.readFileSync(f, 'utf8')));
    expect(cites).to.deep.equal([]);
  });
});
