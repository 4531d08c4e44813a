import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { shared, withSharedStrings } from '../../../src/kube/shared-strings.js';

const moduleUrl = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../src/kube/shared-strings.js')).href;

/** Heap bytes held by 4,000 objects parsed from their own JSON, each string shared or not (a fresh process with a GC). */
function heldBytes(share: boolean): number {
  const script = `
    import { withSharedStrings } from ${JSON.stringify(moduleUrl)};
    const keep = [];
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 4000; i++) {
      const text = JSON.stringify({
        apiVersion: 'batch.paddlepaddle.org/v1alpha1',
        metadata: { namespace: 'a-team-namespace', name: 'object-' + (i % 50), uid: 'uid-' + i + '-5b706c5f-3113-4300-91de' },
        status: { conditions: [{ type: 'CacheNodesAvailable', message: 'no partition is on a lost node', time: '2026-12-03T22:59:47Z' }] },
      });
      keep.push(${share ? 'withSharedStrings(JSON.parse(text))' : 'JSON.parse(text)'});
    }
    globalThis.gc();
    process.stdout.write(String(process.memoryUsage().heapUsed - before) + ' ' + keep.length);
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return Number(out.split(' ')[0]);
}

describe('shared strings', () => {
  it('leaves every value as it was', () => {
    const o = { a: 'x'.repeat(20), b: [{ c: 'y'.repeat(30), d: 3, e: null, f: true }, 'z'.repeat(200)], g: { h: '' } };
    const copy = structuredClone(o);
    expect(withSharedStrings(o)).to.equal(o);
    expect(o).to.deep.equal(copy);
    expect(shared('a-b')).to.equal('a-b');
    expect(shared('__proto__')).to.equal('__proto__');
    expect(withSharedStrings('text')).to.equal('text');
  });

  it('keeps one copy of a string that arrives in many objects', function () {
    this.timeout(20_000);
    const apart = heldBytes(false);
    const sharedBytes = heldBytes(true);
    // the repeated values are about half of each object's strings; sharing them must show
    expect(sharedBytes, `${sharedBytes} bytes shared against ${apart} apart`).to.be.below(apart * 0.8);
  });
});
