// The JuiceFS control-file protocol (messages byte for byte, the answer stream in any chunking);
// talking to a real mount is covered in test/integration.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CMD_FILL_CACHE,
  CMD_RMR,
  ControlAnswerParser,
  errnoName,
  fillCacheMessage,
  openControlFile,
  rmrMessage,
} from '../../../../src/engines/juicefs/control-file.js';

describe('JuiceFS control file protocol', () => {
  it('builds the rmr message as juicefs rmr does: header, parent inode, name, skip-trash, threads', () => {
    const m = rmrMessage(0x0102030405060708n, 'héllo', true, 50);
    const name = Buffer.from('héllo');
    expect(m.readUInt32BE(0)).to.equal(CMD_RMR);
    expect(m.readUInt32BE(4)).to.equal(8 + 1 + name.length + 2);
    expect(m.length).to.equal(8 + 8 + 1 + name.length + 2);
    expect(m.readBigUInt64BE(8)).to.equal(0x0102030405060708n);
    expect(m[16]).to.equal(name.length);
    expect(m.subarray(17, 17 + name.length).equals(name)).to.equal(true);
    expect([...m.subarray(17 + name.length)]).to.deep.equal([1, 50]);
    expect(rmrMessage(1n, 'x', false, 999).subarray(-2)).to.deep.equal(Buffer.from([0, 255]));
    expect(() => rmrMessage(1n, '', false, 1)).to.throw();
    expect(() => rmrMessage(1n, 'x'.repeat(256), false, 1)).to.throw();
  });

  it('builds the fill-cache message: paths joined by newlines, threads, foreground, warmup', () => {
    const m = fillCacheMessage(['/a/b', '/c'], 8);
    const list = Buffer.from('/a/b\n/c');
    expect(m.readUInt32BE(0)).to.equal(CMD_FILL_CACHE);
    expect(m.readUInt32BE(4)).to.equal(4 + list.length + 4);
    expect(m.readUInt32BE(8)).to.equal(list.length);
    expect(m.subarray(12, 12 + list.length).equals(list)).to.equal(true);
    expect([...m.subarray(12 + list.length)]).to.deep.equal([0, 8, 0, 0]);
    expect(() => fillCacheMessage(['/a\n/etc/passwd'], 1)).to.throw(/line break/);
  });

  it('parses progress, data and errno records however the stream is split', () => {
    const progress = Buffer.alloc(17);
    progress[0] = 0xfe;
    progress.writeBigUInt64BE(3n, 1);
    progress.writeBigUInt64BE(4096n, 9);
    const json = Buffer.from('{"FileCount":3,"TotalBytes":4096}');
    const data = Buffer.concat([Buffer.from([0xff, 0, 0, 0, json.length]), json]);
    const stream = Buffer.concat([progress, progress, data]);
    for (let cut = 1; cut < stream.length; cut++) {
      const p = new ControlAnswerParser();
      const events = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
      expect(
        events.map((e) => e.kind),
        `cut ${cut}`,
      ).to.deep.equal(['progress', 'progress', 'data']);
      expect(events[2]).to.deep.equal({ kind: 'data', json: json.toString() });
      expect(p.done).to.equal(true);
    }
    const err = new ControlAnswerParser();
    expect(err.push(Buffer.concat([progress, Buffer.from([2])]))).to.deep.equal([
      { kind: 'progress', a: 3n, b: 4096n },
      { kind: 'errno', errno: 2 },
    ]);
    expect(errnoName(2)).to.equal('ENOENT');
    expect(errnoName(200)).to.equal('errno 200');
  });

  it("refuses a .control that is not the mount's virtual control file (a tenant's file, a link, nothing)", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'control-'));
    try {
      for (const plant of [
        () => {},
        () => fs.writeFileSync(path.join(tmp, '.control'), ''),
        () => fs.symlinkSync('/dev/null', path.join(tmp, '.control')),
      ]) {
        fs.rmSync(path.join(tmp, '.control'), { force: true });
        plant();
        try {
          await openControlFile(tmp);
          expect.fail('should refuse');
        } catch (err) {
          expect((err as Error).message).to.match(/not a JuiceFS mount/);
        }
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
