import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { SAMPLESET_LABEL } from '../../../../src/api/constants.js';
import {
  FORCE_DELETE_ANNOTATION,
  claimUsers,
  decideDeletion,
  describeUsers,
  inUseMessage,
  isForceDelete,
  type InUseInput,
} from '../../../../src/operators/sampleset/in-use.js';
import { claimsOfPod } from '../../../../src/operators/shared/cache-placement.js';

const pod = (
  name: string,
  opts: { ns?: string; claims?: string[]; phase?: string; owner?: { kind: string; name: string }; labels?: Record<string, string> } = {},
): V1Pod => ({
  metadata: {
    name,
    namespace: opts.ns ?? 'ml',
    labels: opts.labels,
    ownerReferences: opts.owner
      ? [{ apiVersion: 'x/v1', kind: opts.owner.kind, name: opts.owner.name, uid: 'u', controller: true }]
      : undefined,
  },
  spec: {
    containers: [],
    volumes: [
      { name: 'scratch', emptyDir: {} },
      ...(opts.claims ?? ['imagenet']).map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })),
    ],
  },
  status: { phase: opts.phase ?? 'Running' },
});

const input = (pods: V1Pod[], extra: Partial<InUseInput> = {}): InUseInput => ({
  namespace: 'ml',
  claimNames: ['imagenet'],
  pods,
  runtimePods: new Set(['imagenet-runtime-0', 'imagenet-runtime-1']),
  ...extra,
});

describe('in use: may a SampleSet being deleted be torn down', () => {
  it('proceeds when no pod mounts the claim', () => {
    const d = decideDeletion(input([pod('other', { claims: ['another-claim'] }), pod('none', { claims: [] })]));
    expect(d).to.deep.equal({ action: 'proceed', forced: false, users: [] });
  });

  it('waits for a running or pending pod mounting the claim, naming its controller', () => {
    const d = decideDeletion(
      input([
        pod('train-worker-0', { owner: { kind: 'PaddleJob', name: 'train' } }),
        pod('debug', { phase: 'Pending' }),
        pod('unrelated', { claims: ['x'] }),
      ]),
    );
    expect(d).to.deep.equal({
      action: 'wait',
      users: [{ pod: 'debug' }, { pod: 'train-worker-0', owner: { kind: 'PaddleJob', name: 'train' } }],
    });
  });

  it('finished pods (Succeeded, Failed) do not count; a pod being deleted still does', () => {
    const deleting = pod('going');
    deleting.metadata!.deletionTimestamp = new Date();
    const d = decideDeletion(input([pod('done', { phase: 'Succeeded' }), pod('broke', { phase: 'Failed' }), deleting]));
    expect(d).to.deep.equal({ action: 'wait', users: [{ pod: 'going' }] });
    expect(decideDeletion(input([pod('done', { phase: 'Succeeded' })])).action).to.equal('proceed');
  });

  it("the SampleSet's own runtime pods are never users", () => {
    const rt = pod('imagenet-runtime-0', {
      labels: { [SAMPLESET_LABEL]: 'imagenet' },
      owner: { kind: 'StatefulSet', name: 'imagenet-runtime' },
    });
    expect(decideDeletion(input([rt])).action).to.equal('proceed');
    // a pod merely named like another SampleSet's runtime is a user
    expect(decideDeletion(input([pod('other-runtime-0')])).action).to.equal('wait');
  });

  it('pods in other namespaces do not count, even with a claim of the same name', () => {
    expect(decideDeletion(input([pod('elsewhere', { ns: 'team-b' })])).action).to.equal('proceed');
  });

  it('any of several claim names counts', () => {
    expect(claimUsers(input([pod('a', { claims: ['old-claim'] })], { claimNames: ['imagenet', 'old-claim'] }))).to.deep.equal([
      { pod: 'a' },
    ]);
  });

  it('the force annotation proceeds with the users still listed (for the Event)', () => {
    const d = decideDeletion(input([pod('debug')], { annotations: { [FORCE_DELETE_ANNOTATION]: 'true' } }));
    expect(d).to.deep.equal({ action: 'proceed', forced: true, users: [{ pod: 'debug' }] });
    // forced with no user left is an ordinary deletion
    expect(decideDeletion(input([], { annotations: { [FORCE_DELETE_ANNOTATION]: 'true' } }))).to.deep.equal({
      action: 'proceed',
      forced: false,
      users: [],
    });
  });

  it('only "true" forces', () => {
    expect(isForceDelete({ [FORCE_DELETE_ANNOTATION]: 'True' })).to.equal(true);
    for (const v of ['false', '', 'yes', '1']) expect(isForceDelete({ [FORCE_DELETE_ANNOTATION]: v }), v).to.equal(false);
    expect(isForceDelete(undefined)).to.equal(false);
    expect(decideDeletion(input([pod('debug')], { annotations: { [FORCE_DELETE_ANNOTATION]: 'false' } })).action).to.equal('wait');
  });

  it('names at most 10 pods, sorted, and says how many more', () => {
    const pods = Array.from({ length: 13 }, (_, i) =>
      pod(`p-${String(i).padStart(2, '0')}`, { owner: { kind: 'PaddleJob', name: 'big' } }),
    );
    const users = claimUsers(input(pods.reverse()));
    expect(users.map((u) => u.pod)[0]).to.equal('p-00');
    const text = describeUsers(users);
    expect(text).to.match(/^pod p-00 \(PaddleJob big\), pod p-01 \(PaddleJob big\)/);
    expect(text).to.include('pod p-09 (PaddleJob big) and 3 more');
    expect(text).to.not.include('p-10');
    expect(describeUsers(users.slice(0, 2))).to.equal('pod p-00 (PaddleJob big), pod p-01 (PaddleJob big)');
  });

  it('the message says what blocks the deletion and how to force it', () => {
    const m = inUseMessage([{ pod: 'debug' }], ['imagenet']);
    expect(m).to.equal(
      'deletion waits for 1 pod mounting PersistentVolumeClaim imagenet: pod debug; the cache stays until they finish or are deleted ' +
        `(annotate the SampleSet ${FORCE_DELETE_ANNOTATION}=true to delete it now)`,
    );
  });

  it('claimsOfPod lists the claim volumes only', () => {
    expect(claimsOfPod(pod('a', { claims: ['x', 'y'] }))).to.deep.equal(['x', 'y']);
    expect(claimsOfPod({ metadata: { name: 'b' } })).to.deep.equal([]);
  });
});
