import { expect } from 'chai';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { CONFIGMAP } from '../../../src/api/constants.js';
import { ApiError } from '../../../src/kube/api-error.js';
import { createIfAbsent, createOrFindOwned } from '../../../src/kube/create-if-absent.js';
import { FakeCluster } from '../support/fake-cluster.js';

describe('create if absent, adopt only what we own', () => {
  const cm = (owner: string): V1ConfigMap => ({ metadata: { name: 'c', namespace: 'ns', labels: { owner } } });
  const ours = (o: V1ConfigMap): boolean => o.metadata?.labels?.owner === 'us';

  it('createIfAbsent creates, and leaves an existing object as it is', async () => {
    const kube = new FakeCluster();
    expect((await createIfAbsent(kube.api as never, CONFIGMAP, cm('us'), 'ns'))?.metadata?.name).to.equal('c');
    expect(await createIfAbsent(kube.api as never, CONFIGMAP, cm('them'), 'ns')).to.equal(undefined);
    expect(kube.get<V1ConfigMap>(CONFIGMAP, 'c', 'ns')?.metadata?.labels?.owner).to.equal('us');
  });

  it('createIfAbsent passes on every other error', async () => {
    const kube = new FakeCluster();
    kube.api.failNext = { match: (c) => c.verb === 'create', count: 1, error: () => new ApiError(403, 'Forbidden', 'no') };
    let err: unknown;
    await createIfAbsent(kube.api as never, CONFIGMAP, cm('us'), 'ns').catch((e: unknown) => (err = e));
    expect((err as ApiError).code).to.equal(403);
  });

  it('createOrFindOwned: created, found ours (a lagging cache), or a foreign one reported and untouched', async () => {
    const kube = new FakeCluster();
    const first = await createOrFindOwned(kube.api as never, CONFIGMAP, cm('us'), ours, 'ns');
    expect(first.created).to.equal(true);
    const again = await createOrFindOwned(kube.api as never, CONFIGMAP, cm('us'), ours, 'ns');
    expect(again).to.deep.include({ created: false });
    expect(again.object?.metadata?.uid).to.equal(first.object?.metadata?.uid);
    kube.put(CONFIGMAP, cm('them'));
    const foreign = await createOrFindOwned(kube.api as never, CONFIGMAP, cm('us'), ours, 'ns');
    expect(foreign.object).to.equal(undefined);
    expect(foreign.foreign?.metadata?.labels?.owner).to.equal('them');
  });
});
