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

  it('no comment cites a specification section that is not in the repository', () => {
    const cites = files.filter((f) => /\bSPEC\s*§|\(§\d/.test(fs.readFileSync(f, 'utf8')));
    expect(cites).to.deep.equal([]);
  });
});
