import { expect } from 'chai';
import { HostPortAllocator, formatHostPorts, parseHostPorts } from '../../../../src/operators/paddlejob/host-ports.js';

function overlaps(tables: Record<string, number>[], block = 20): boolean {
  const ports = new Set<number>();
  for (const t of tables) {
    for (const base of Object.values(t)) {
      for (let p = base; p < base + block; p++) {
        if (ports.has(p)) return true;
        ports.add(p);
      }
    }
  }
  return false;
}

describe('paddlejob host port allocator', () => {
  it('gives each member its own block inside the range, without collisions across jobs', () => {
    const a = new HostPortAllocator({ min: 35000, max: 35199 });
    const t1 = a.allocate('ns/a', ['ps-0', 'worker-0', 'worker-1'])!;
    const t2 = a.allocate('ns/b', ['worker-0', 'worker-1'])!;
    expect(Object.keys(t1)).to.have.members(['ps-0', 'worker-0', 'worker-1']);
    expect(overlaps([t1, t2])).to.equal(false);
    for (const p of [...Object.values(t1), ...Object.values(t2)]) expect(p).to.be.within(35000, 35180);
    expect(a.freeBlocks).to.equal(5);
  });

  it('is idempotent: members that have a block keep it', () => {
    const a = new HostPortAllocator({ min: 35000, max: 35199 });
    const t1 = a.allocate('ns/a', ['worker-0'])!;
    const t2 = a.allocate('ns/a', ['worker-0', 'worker-1'])!;
    expect(t2['worker-0']).to.equal(t1['worker-0']);
    expect(a.freeBlocks).to.equal(8);
  });

  it('is all or nothing when the range is exhausted', () => {
    const a = new HostPortAllocator({ min: 35000, max: 35059 }); // 3 blocks
    a.allocate('ns/a', ['ps-0', 'worker-0']);
    expect(a.allocate('ns/b', ['worker-0', 'worker-1'])).to.equal(undefined);
    expect(a.freeBlocks, 'nothing kept from the failed attempt').to.equal(1);
    expect(a.tableOf('ns/b')).to.deep.equal({});
  });

  it('releases blocks of a member or of a whole job', () => {
    const a = new HostPortAllocator({ min: 35000, max: 35059 });
    a.allocate('ns/a', ['ps-0', 'worker-0', 'worker-1']);
    a.release('ns/a', ['worker-1']);
    expect(Object.keys(a.tableOf('ns/a'))).to.have.members(['ps-0', 'worker-0']);
    expect(a.allocate('ns/b', ['worker-0'])).to.not.equal(undefined);
    a.release('ns/a');
    expect(a.tableOf('ns/a')).to.deep.equal({});
    expect(a.freeBlocks).to.equal(2);
  });

  it('is restored from the annotations after a restart and never hands those ports out again', () => {
    const before = new HostPortAllocator({ min: 35000, max: 35199 });
    const t1 = before.allocate('ns/a', ['ps-0', 'worker-0'])!;
    const t2 = before.allocate('ns/b', ['worker-0'])!;
    const annotations = { 'ns/a': formatHostPorts(t1), 'ns/b': formatHostPorts(t2) };

    const after = new HostPortAllocator({ min: 35000, max: 35199 });
    for (const [job, ann] of Object.entries(annotations)) expect(after.reserve(job, parseHostPorts(ann))).to.deep.equal([]);
    expect(after.tableOf('ns/a')).to.deep.equal(t1);
    const t3 = after.allocate('ns/c', ['w-0', 'w-1', 'w-2', 'w-3', 'w-4', 'w-5', 'w-6'])!;
    expect(overlaps([t1, t2, t3])).to.equal(false);
    expect(after.allocate('ns/d', ['w-0'])).to.equal(undefined);
  });

  it("refuses to restore a block that overlaps another job's and reports it", () => {
    const a = new HostPortAllocator({ min: 35000, max: 35199 });
    a.reserve('ns/a', { 'ps-0': 35000 });
    expect(a.reserve('ns/b', { 'ps-0': 35010, 'worker-0': 35100 })).to.deep.equal(['ps-0']);
    expect(a.tableOf('ns/b')).to.deep.equal({ 'worker-0': 35100 });
    expect(a.reserve('ns/a', { 'ps-0': 35000 }), 're-reserving its own block is fine').to.deep.equal([]);
  });

  it('reads and writes the annotation, ignoring malformed content', () => {
    expect(parseHostPorts(formatHostPorts({ 'worker-0': 35020, 'ps-0': 35000 }))).to.deep.equal({ 'ps-0': 35000, 'worker-0': 35020 });
    expect(formatHostPorts({ 'worker-0': 35020, 'ps-0': 35000 })).to.equal('{"ps-0":35000,"worker-0":35020}');
    expect(parseHostPorts(undefined)).to.deep.equal({});
    expect(parseHostPorts('40000')).to.deep.equal({});
    expect(parseHostPorts('{"ps-0":"x","w-0":70000,"w-1":35000}')).to.deep.equal({ 'w-1': 35000 });
    expect(parseHostPorts('not json')).to.deep.equal({});
  });

  it('rejects a range smaller than one block', () => {
    expect(() => new HostPortAllocator({ min: 35000, max: 35010 })).to.throw(/cannot hold/);
  });
});
