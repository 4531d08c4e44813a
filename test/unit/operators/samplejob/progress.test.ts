import { expect } from 'chai';
import { aggregateProgress, formatPercent } from '../../../../src/operators/samplejob/progress.js';

describe('samplejob progress', () => {
  it('formats a floored whole percentage', () => {
    expect(formatPercent(0.379)).to.equal('37%');
    expect(formatPercent(1.2)).to.equal('100%');
    expect(formatPercent(-1)).to.equal('0%');
  });
  it('is empty before anything is known', () => {
    expect(aggregateProgress([])).to.deep.equal({});
    expect(aggregateProgress([{ phase: 'Pending' }, { phase: 'Waiting' }])).to.deep.equal({});
  });
  it('sums counts over pods and weighs the percentage by bytes when every pod knows its total', () => {
    const p = aggregateProgress([
      { phase: 'Running', progress: { filesDone: 10, filesTotal: 40, bytesDone: 100, bytesTotal: 400 } },
      { phase: 'Running', progress: { filesDone: 30, filesTotal: 40, bytesDone: 300, bytesTotal: 400 } },
    ]);
    expect(p).to.deep.equal({ filesDone: 40, filesTotal: 80, bytesDone: 400, bytesTotal: 800, percent: '50%' });
  });
  it('uses files when bytes are unknown', () => {
    expect(aggregateProgress([{ phase: 'Running', progress: { filesDone: 1, filesTotal: 4 } }]).percent).to.equal('25%');
  });
  it('does not let a finished pod make the job look done while another has not started', () => {
    const p = aggregateProgress([{ phase: 'Succeeded', progress: { bytesDone: 400, bytesTotal: 400 } }, { phase: 'Pending' }]);
    expect(p.percent).to.equal('50%');
  });
  it('never says 100% before every pod succeeded, and says it when they did', () => {
    expect(aggregateProgress([{ phase: 'Running', progress: { bytesDone: 400, bytesTotal: 400 } }]).percent).to.equal('99%');
    expect(aggregateProgress([{ phase: 'Succeeded' }, { phase: 'Succeeded', progress: { filesDone: 3 } }])).to.deep.equal({
      filesDone: 3,
      percent: '100%',
    });
  });
  it('rises as the pods progress', () => {
    const seen = [0, 100, 250, 400].map(
      (d) =>
        aggregateProgress([
          { phase: 'Running', progress: { bytesDone: d, bytesTotal: 400 } },
          { phase: 'Running', progress: { bytesDone: d / 2, bytesTotal: 400 } },
        ]).percent,
    );
    expect(seen).to.deep.equal(['0%', '18%', '46%', '75%']);
  });
});
