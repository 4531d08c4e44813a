import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// The operator process carries only what it uses: loading every module of it (all three operators,
// the container, the manager) stays far below what `@kubernetes/client-node`'s generated API alone
// costs (about 26 MiB of heap), which the operator never needs (src/kube/dot-i-operator.ts,
// src/kube/kube-config.ts).
describe('footprint', () => {
  it("loads the operator's modules without client-node's generated API (under 20 MiB of heap)", () => {
    const dist = path.resolve('dist', 'src');
    const script = `
      await import(${JSON.stringify(path.join(dist, 'container.js'))});
      await import(${JSON.stringify(path.join(dist, 'manager.js'))});
      globalThis.gc();
      process.stdout.write(String(process.memoryUsage().heapUsed));`;
    const heap = Number(execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' }));
    expect(heap / 2 ** 20)
      .to.be.greaterThan(1)
      .and.lessThan(20);
  });

  it('orders strings without locale collation (ICU tables cost about 2 MiB of resident memory)', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && /\.localeCompare\(|\.toLocale\w*\(|Intl\.Collator/.test(fs.readFileSync(p, 'utf8')))
          offenders.push(p);
      }
    };
    walk('src');
    expect(offenders, 'use compareText (src/api/compare-text.ts)').to.deep.equal([]);
  });
});
