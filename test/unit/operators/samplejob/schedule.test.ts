import { expect } from 'chai';
import type { SampleJob, SampleJobSpec, SampleJobStatus } from '../../../../src/api/samplejob.js';
import {
  buildChild,
  childName,
  decideSchedule,
  isScheduled,
  parseSchedule,
  SCHEDULED_AT_ANNOTATION,
  SCHEDULED_BY_LABEL,
  scheduledTimeOf,
} from '../../../../src/operators/samplejob/schedule.js';

const T = (s: string): number => Date.parse(s);

function parent(spec: Partial<SampleJobSpec> = {}, status: SampleJobStatus = {}, created = '2024-01-01T00:00:00Z'): SampleJob {
  return {
    apiVersion: 'batch.paddlepaddle.org/v1alpha1',
    kind: 'SampleJob',
    metadata: { name: 'nightly', namespace: 'ns', uid: 'parent-uid', generation: 1, creationTimestamp: created as unknown as Date },
    spec: { type: 'warmup', sampleSetRef: { name: 'imagenet' }, schedule: '* * * * *', ...spec },
    status,
  };
}

function child(p: SampleJob, scheduled: string, phase?: SampleJobStatus['phase'], completion?: string, deleting = false): SampleJob {
  const c = buildChild(p, childName(p.metadata.name!, T(scheduled)), new Date(scheduled));
  c.metadata.uid = `uid-${scheduled}`;
  if (deleting) c.metadata.deletionTimestamp = new Date(scheduled);
  c.status = { phase, completionTime: completion };
  return c;
}

describe('samplejob schedule', () => {
  describe('names and children', () => {
    it('names a child <parent>-<unix minutes>, the same for the same scheduled time', () => {
      expect(childName('nightly', T('2024-01-01T00:05:00Z'))).to.equal(`nightly-${T('2024-01-01T00:05:00Z') / 60000}`);
      expect(childName('nightly', new Date('2024-01-01T00:05:00Z'))).to.equal(childName('nightly', T('2024-01-01T00:05:00Z')));
      expect(childName('nightly', T('2024-01-01T00:05:00Z'))).to.not.equal(childName('nightly', T('2024-01-01T00:06:00Z')));
    });
    it('keeps long names within 253 characters and unique per parent', () => {
      const a = childName('a'.repeat(250), T('2024-01-01T00:05:00Z'));
      const b = childName('a'.repeat(249) + 'b', T('2024-01-01T00:05:00Z'));
      expect(a.length).to.be.at.most(253);
      expect(a).to.not.equal(b);
      expect(a).to.match(/-\d+$/);
    });
    it('builds a child owned by the parent with the spec minus the schedule fields', () => {
      const p = parent({
        suspend: false,
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 2,
        failedJobsHistoryLimit: 0,
        startingDeadlineSeconds: 30,
        timeZone: 'UTC',
        warmupOptions: { paths: ['/train'] },
      });
      const c = buildChild(p, 'nightly-1', new Date('2024-01-01T00:05:00Z'));
      expect(c.spec).to.deep.equal({ type: 'warmup', sampleSetRef: { name: 'imagenet' }, warmupOptions: { paths: ['/train'] } });
      expect(isScheduled(c)).to.equal(false);
      expect(c.metadata.ownerReferences).to.deep.equal([
        { apiVersion: p.apiVersion, kind: 'SampleJob', name: 'nightly', uid: 'parent-uid', controller: true, blockOwnerDeletion: true },
      ]);
      expect(c.metadata.annotations![SCHEDULED_AT_ANNOTATION]).to.equal('2024-01-01T00:05:00Z');
      expect(c.metadata.labels![SCHEDULED_BY_LABEL]).to.equal('nightly');
      expect(scheduledTimeOf(c)).to.equal(T('2024-01-01T00:05:00Z'));
      // the parent's spec is not modified
      expect(p.spec.schedule).to.equal('* * * * *');
    });
    it('reads the scheduled time from the name when the annotation is missing', () => {
      const c = child(parent(), '2024-01-01T00:07:00Z');
      delete c.metadata.annotations;
      expect(scheduledTimeOf(c)).to.equal(T('2024-01-01T00:07:00Z'));
    });
  });

  describe('parsing', () => {
    it('accepts 5-field cron and nicknames, rejects others and unknown time zones', () => {
      expect(() => parseSchedule('*/5 * * * *').stop()).to.not.throw();
      expect(() => parseSchedule('@hourly').stop()).to.not.throw();
      expect(() => parseSchedule('0 0 ? * MON').stop()).to.not.throw();
      expect(() => parseSchedule('0 0 0 * * *')).to.throw(/invalid schedule/);
      expect(() => parseSchedule('61 * * * *')).to.throw(/invalid schedule/);
      expect(() => parseSchedule('* * * * *', 'Mars/Olympus')).to.throw(/unknown time zone/);
    });
    it('reports an invalid schedule as an error decision and creates nothing', () => {
      const d = decideSchedule(parent({ schedule: 'every minute' }), [], T('2024-01-01T01:00:00Z'));
      expect(d.error?.reason).to.equal('InvalidSchedule');
      expect(d.toCreate).to.equal(undefined);
      const z = decideSchedule(parent({ timeZone: 'Nowhere/Land' }), [], T('2024-01-01T01:00:00Z'));
      expect(z.error?.message).to.match(/unknown time zone/);
    });
  });

  describe('when to run', () => {
    it('creates nothing before the first scheduled time after creation, and says when that is', () => {
      const p = parent({ schedule: '0 * * * *' }, {}, '2024-01-01T00:10:00Z');
      const d = decideSchedule(p, [], T('2024-01-01T00:30:00Z'));
      expect(d.toCreate).to.equal(undefined);
      expect(d.nextRunAt?.toISOString()).to.equal('2024-01-01T01:00:00.000Z');
    });
    it('never runs a time before the parent existed, even with older children (adopted history)', () => {
      const p = parent({ schedule: '0 * * * *' }, {}, '2024-01-01T05:10:00Z');
      const old = child(p, '2024-01-01T02:00:00Z', 'Succeeded', '2024-01-01T02:00:30Z');
      const d = decideSchedule(p, [old], T('2024-01-01T05:20:00Z'));
      expect(d.toCreate).to.equal(undefined);
      expect(d.skipped).to.equal(undefined);
      expect(d.nextRunAt?.toISOString()).to.equal('2024-01-01T06:00:00.000Z');
    });
    it('creates the run that is due, records lastScheduleTime and active, and points at the next run', () => {
      const p = parent({ schedule: '0 * * * *' }, {}, '2024-01-01T00:10:00Z');
      const d = decideSchedule(p, [], T('2024-01-01T01:00:00.020Z'));
      expect(d.toCreate).to.deep.equal({
        name: childName('nightly', T('2024-01-01T01:00:00Z')),
        scheduledTime: new Date('2024-01-01T01:00:00Z'),
        activeDeadlineSeconds: 3600, // concurrencyPolicy Allow: at most until the next run
      });
      expect(d.lastScheduleTime?.toISOString()).to.equal('2024-01-01T01:00:00.000Z');
      expect(d.active.map((a) => a.name)).to.deep.equal([d.toCreate!.name]);
      expect(d.nextRunAt?.toISOString()).to.equal('2024-01-01T02:00:00.000Z');
      expect(d.missed).to.equal(0);
    });
    it('does not create a run twice: an existing child for the time counts as created (operator restart)', () => {
      const p = parent({ schedule: '0 * * * *' }, {}, '2024-01-01T00:10:00Z');
      const existing = child(p, '2024-01-01T01:00:00Z');
      // lastScheduleTime was never written (status write lost before a restart)
      const d = decideSchedule(p, [existing], T('2024-01-01T01:00:30Z'));
      expect(d.toCreate).to.equal(undefined);
      expect(d.lastScheduleTime?.toISOString()).to.equal('2024-01-01T01:00:00.000Z');
      expect(d.active.map((a) => a.name)).to.deep.equal([existing.metadata.name]);
    });
    it('does not re-create a run whose time was already handled (lastScheduleTime), even if its child was pruned', () => {
      const p = parent({ schedule: '0 * * * *' }, { lastScheduleTime: '2024-01-01T01:00:00Z' }, '2024-01-01T00:10:00Z');
      const d = decideSchedule(p, [], T('2024-01-01T01:30:00Z'));
      expect(d.toCreate).to.equal(undefined);
      expect(d.nextRunAt?.toISOString()).to.equal('2024-01-01T02:00:00.000Z');
    });
    it('after downtime runs only the most recent missed time and counts the others as missed', () => {
      const p = parent({ schedule: '*/10 * * * *' }, { lastScheduleTime: '2024-01-01T00:00:00Z' });
      // operator down from 00:05 to 00:47: 00:10, 00:20, 00:30, 00:40 were due
      const d = decideSchedule(p, [], T('2024-01-01T00:47:00Z'));
      expect(d.toCreate?.scheduledTime.toISOString()).to.equal('2024-01-01T00:40:00.000Z');
      expect(d.missed).to.equal(3);
      expect(d.nextRunAt?.toISOString()).to.equal('2024-01-01T00:50:00.000Z');
    });
    it('skips a run that missed its startingDeadlineSeconds, and records it as handled', () => {
      const p = parent({ schedule: '*/10 * * * *', startingDeadlineSeconds: 60 }, { lastScheduleTime: '2024-01-01T00:00:00Z' });
      const late = decideSchedule(p, [], T('2024-01-01T00:12:00Z'));
      expect(late.toCreate).to.equal(undefined);
      expect(late.skipped?.reason).to.equal('StartingDeadlineExceeded');
      expect(late.lastScheduleTime?.toISOString()).to.equal('2024-01-01T00:10:00.000Z');
      const inTime = decideSchedule(p, [], T('2024-01-01T00:10:59Z'));
      expect(inTime.toCreate?.scheduledTime.toISOString()).to.equal('2024-01-01T00:10:00.000Z');
    });
    it('with startingDeadlineSeconds after a long outage: nothing runs late, the next run is on time', () => {
      const p = parent({ schedule: '0 * * * *', startingDeadlineSeconds: 300 }, { lastScheduleTime: '2024-01-01T00:00:00Z' });
      const d = decideSchedule(p, [], T('2024-01-01T05:30:00Z'));
      expect(d.toCreate).to.equal(undefined);
      expect(d.skipped?.scheduledTime.toISOString()).to.equal('2024-01-01T05:00:00.000Z');
      expect(d.nextRunAt?.toISOString()).to.equal('2024-01-01T06:00:00.000Z');
    });
  });

  describe('suspend and concurrency policies', () => {
    it('suspend: creates nothing and has no next run', () => {
      const p = parent({ suspend: true }, { lastScheduleTime: '2024-01-01T00:00:00Z' });
      const d = decideSchedule(p, [], T('2024-01-01T00:05:00Z'));
      expect(d.toCreate).to.equal(undefined);
      expect(d.nextRunAt).to.equal(undefined);
      expect(d.lastScheduleTime?.toISOString()).to.equal('2024-01-01T00:00:00.000Z');
    });
    it('resuming runs the most recent missed time (like CronJob), unless it is past the deadline', () => {
      const p = parent({ suspend: false }, { lastScheduleTime: '2024-01-01T00:00:00Z' });
      expect(decideSchedule(p, [], T('2024-01-01T00:05:30Z')).toCreate?.scheduledTime.toISOString()).to.equal('2024-01-01T00:05:00.000Z');
      const withDeadline = parent({ suspend: false, startingDeadlineSeconds: 10 }, { lastScheduleTime: '2024-01-01T00:00:00Z' });
      expect(decideSchedule(withDeadline, [], T('2024-01-01T00:05:30Z')).toCreate).to.equal(undefined);
    });
    it('Allow: runs next to an active child', () => {
      const p = parent({ concurrencyPolicy: 'Allow' }, { lastScheduleTime: '2024-01-01T00:04:00Z' });
      const running = child(p, '2024-01-01T00:04:00Z', 'Running');
      const d = decideSchedule(p, [running], T('2024-01-01T00:05:00Z'));
      expect(d.toCreate?.scheduledTime.toISOString()).to.equal('2024-01-01T00:05:00.000Z');
      expect(d.toDelete).to.deep.equal([]);
      expect(d.active.map((a) => a.name)).to.deep.equal([running.metadata.name, d.toCreate!.name]);
    });
    it('Forbid: skips the run while a child is active, and does not start it late when that one finishes', () => {
      const p = parent({ concurrencyPolicy: 'Forbid' }, { lastScheduleTime: '2024-01-01T00:04:00Z' });
      const running = child(p, '2024-01-01T00:04:00Z', 'Running');
      const d = decideSchedule(p, [running], T('2024-01-01T00:05:01Z'));
      expect(d.toCreate).to.equal(undefined);
      expect(d.skipped?.reason).to.equal('ConcurrencyForbid');
      expect(d.lastScheduleTime?.toISOString()).to.equal('2024-01-01T00:05:00.000Z');
      // the active one finishes at 00:05:30: the skipped 00:05 run is not started; 00:06 runs on time
      const after = parent({ concurrencyPolicy: 'Forbid' }, { lastScheduleTime: d.lastScheduleTime!.toISOString() });
      const done = child(after, '2024-01-01T00:04:00Z', 'Succeeded', '2024-01-01T00:05:30Z');
      expect(decideSchedule(after, [done], T('2024-01-01T00:05:40Z')).toCreate).to.equal(undefined);
      expect(decideSchedule(after, [done], T('2024-01-01T00:06:00Z')).toCreate?.scheduledTime.toISOString()).to.equal(
        '2024-01-01T00:06:00.000Z',
      );
    });
    it('Forbid: a child being deleted does not block', () => {
      const p = parent({ concurrencyPolicy: 'Forbid' }, { lastScheduleTime: '2024-01-01T00:04:00Z' });
      const going = child(p, '2024-01-01T00:04:00Z', 'Running', undefined, true);
      expect(decideSchedule(p, [going], T('2024-01-01T00:05:00Z')).toCreate).to.not.equal(undefined);
    });
    it('Replace: deletes the active children and creates the new run', () => {
      const p = parent({ concurrencyPolicy: 'Replace' }, { lastScheduleTime: '2024-01-01T00:04:00Z' });
      const running = child(p, '2024-01-01T00:04:00Z', 'Running');
      const d = decideSchedule(p, [running], T('2024-01-01T00:05:00Z'));
      expect(d.toDelete).to.deep.equal([{ name: running.metadata.name, uid: running.metadata.uid, reason: 'Replace' }]);
      expect(d.toCreate?.scheduledTime.toISOString()).to.equal('2024-01-01T00:05:00.000Z');
      expect(d.active.map((a) => a.name)).to.deep.equal([d.toCreate!.name]);
    });
  });

  describe('history', () => {
    const p = parent({}, { lastScheduleTime: '2024-01-01T00:10:00Z' });
    const ok = (m: number): SampleJob => child(p, `2024-01-01T00:0${m}:00Z`, 'Succeeded', `2024-01-01T00:0${m}:30Z`);
    const bad = (m: number): SampleJob => child(p, `2024-01-01T00:0${m}:00Z`, 'Failed', `2024-01-01T00:0${m}:30Z`);

    it('keeps 3 succeeded and 1 failed by default, deleting the oldest', () => {
      const d = decideSchedule(p, [ok(1), ok(2), ok(3), ok(4), ok(5), bad(6), bad(7), bad(8)], T('2024-01-01T00:10:30Z'));
      const deleted = d.toDelete
        .filter((x) => x.reason === 'HistoryLimit')
        .map((x) => x.name)
        .sort();
      expect(deleted).to.deep.equal([ok(1), ok(2), bad(6), bad(7)].map((c) => c.metadata.name!).sort());
      expect(d.lastSuccessfulTime?.toISOString()).to.equal('2024-01-01T00:05:30.000Z');
    });
    it('honours explicit limits, including 0; never prunes active children', () => {
      const q = parent({ successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: 2 }, { lastScheduleTime: '2024-01-01T00:10:00Z' });
      const running = child(q, '2024-01-01T00:09:00Z', 'Running');
      const d = decideSchedule(q, [ok(1), bad(2), bad(3), bad(4), running], T('2024-01-01T00:10:30Z'));
      const deleted = d.toDelete.map((x) => x.name).sort();
      expect(deleted).to.deep.equal([ok(1), bad(2)].map((c) => c.metadata.name!).sort());
      expect(d.active.map((a) => a.name)).to.deep.equal([running.metadata.name]);
    });
    it('keeps lastSuccessfulTime when the succeeded children are gone', () => {
      const q = parent({}, { lastScheduleTime: '2024-01-01T00:10:00Z', lastSuccessfulTime: '2024-01-01T00:09:30Z' });
      expect(decideSchedule(q, [], T('2024-01-01T00:10:30Z')).lastSuccessfulTime?.toISOString()).to.equal('2024-01-01T00:09:30.000Z');
    });
  });

  describe('time zones and DST', () => {
    it('runs at the wall-clock time of the time zone', () => {
      const p = parent({ schedule: '30 2 * * *', timeZone: 'Asia/Tokyo' }, {}, '2024-01-01T00:00:00Z');
      // 02:30 JST = 17:30 UTC the day before
      const d = decideSchedule(p, [], T('2024-01-01T00:00:00Z'));
      expect(d.nextRunAt?.toISOString()).to.equal('2024-01-01T17:30:00.000Z');
      const due = decideSchedule(p, [], T('2024-01-01T17:30:05Z'));
      expect(due.toCreate?.scheduledTime.toISOString()).to.equal('2024-01-01T17:30:00.000Z');
    });
    it('spring forward: a fixed time that does not exist runs once, right after the gap', () => {
      // Europe/Berlin 2024-03-31: 02:00 → 03:00; 02:30 does not exist
      const p = parent(
        { schedule: '30 2 * * *', timeZone: 'Europe/Berlin' },
        { lastScheduleTime: '2024-03-30T01:30:00Z' },
        '2024-03-01T00:00:00Z',
      );
      const d = decideSchedule(p, [], T('2024-03-31T00:00:00Z'));
      expect(d.nextRunAt?.toISOString()).to.equal('2024-03-31T01:00:00.000Z'); // 03:00 CEST
      const after = decideSchedule(p, [], T('2024-03-31T01:00:10Z'));
      expect(after.toCreate?.scheduledTime.toISOString()).to.equal('2024-03-31T01:00:00.000Z');
      // and the day after, 02:30 CEST again
      const p2 = parent(
        { schedule: '30 2 * * *', timeZone: 'Europe/Berlin' },
        { lastScheduleTime: '2024-03-31T01:00:00Z' },
        '2024-03-01T00:00:00Z',
      );
      expect(decideSchedule(p2, [], T('2024-03-31T12:00:00Z')).nextRunAt?.toISOString()).to.equal('2024-04-01T00:30:00.000Z');
    });
    it('fall back: a fixed time that occurs twice runs once', () => {
      // Europe/Berlin 2024-10-27: 03:00 CEST → 02:00 CET; 02:30 occurs at 00:30Z and 01:30Z
      const p = parent(
        { schedule: '30 2 * * *', timeZone: 'Europe/Berlin' },
        { lastScheduleTime: '2024-10-26T00:30:00Z' },
        '2024-10-01T00:00:00Z',
      );
      const first = decideSchedule(p, [], T('2024-10-27T00:30:01Z'));
      expect(first.toCreate?.scheduledTime.toISOString()).to.equal('2024-10-27T00:30:00.000Z');
      const p2 = parent(
        { schedule: '30 2 * * *', timeZone: 'Europe/Berlin' },
        { lastScheduleTime: '2024-10-27T00:30:00Z' },
        '2024-10-01T00:00:00Z',
      );
      const second = decideSchedule(p2, [], T('2024-10-27T01:30:01Z'));
      expect(second.toCreate).to.equal(undefined);
      expect(second.nextRunAt?.toISOString()).to.equal('2024-10-28T01:30:00.000Z');
    });
    it('interval schedules keep their UTC spacing across DST', () => {
      const p = parent(
        { schedule: '*/30 * * * *', timeZone: 'Europe/Berlin' },
        { lastScheduleTime: '2024-10-27T00:30:00Z' },
        '2024-10-01T00:00:00Z',
      );
      expect(decideSchedule(p, [], T('2024-10-27T00:45:00Z')).nextRunAt?.toISOString()).to.equal('2024-10-27T01:00:00.000Z');
    });
    it('without a time zone uses the process time zone', () => {
      const p = parent({ schedule: '0 0 * * *' }, {}, '2024-01-01T00:00:00Z');
      const next = decideSchedule(p, [], T('2024-01-01T00:00:00Z')).nextRunAt!;
      expect([next.getHours(), next.getMinutes()]).to.deep.equal([0, 0]);
      expect(next.getTime()).to.be.greaterThan(T('2024-01-01T00:00:00Z'));
    });
  });
});
