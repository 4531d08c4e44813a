import { expect } from 'chai';
import { KubeApi, rbacResourceOf } from '../../../src/kube/kube-api.js';
import { NODE, PV, SAMPLESET, STATEFULSET } from '../../../src/api/constants.js';

describe('KubeApi paths', () => {
  it('builds REST paths for core, grouped, namespaced and cluster-scoped kinds', () => {
    expect(KubeApi.path(SAMPLESET, 'ns', 'a', 'status')).to.equal(
      '/apis/batch.paddlepaddle.org/v1alpha1/namespaces/ns/samplesets/a/status',
    );
    expect(KubeApi.path(STATEFULSET, 'ns')).to.equal('/apis/apps/v1/namespaces/ns/statefulsets');
    expect(KubeApi.path(NODE, 'ignored', 'n1')).to.equal('/api/v1/nodes/n1');
    expect(KubeApi.path(PV)).to.equal('/api/v1/persistentvolumes');
  });

  it('maps paths to RBAC group/resource for auditing', () => {
    expect(rbacResourceOf('/apis/batch.paddlepaddle.org/v1alpha1/namespaces/ns/samplesets/a/status')).to.deep.equal({
      group: 'batch.paddlepaddle.org',
      resource: 'samplesets/status',
      named: true,
    });
    expect(rbacResourceOf('/api/v1/namespaces/ns/pods')).to.deep.equal({ group: '', resource: 'pods', named: false });
    expect(rbacResourceOf('/api/v1/nodes/n1')).to.deep.equal({ group: '', resource: 'nodes', named: true });
    expect(rbacResourceOf('/api/v1/namespaces/ns')).to.deep.equal({ group: '', resource: 'namespaces', named: true });
    expect(rbacResourceOf('/version')).to.equal(undefined);
  });
});
