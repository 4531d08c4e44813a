// Class 7 of issue 12: a Secret reference may only name the referring object's own namespace.
import { expect } from 'chai';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { checkSecretNamespaces, crossNamespaceProblem, ownSecretKey } from '../../../../src/operators/shared/secret-refs.js';

describe('Secret references (own namespace only)', () => {
  it('accepts no namespace or the own one, refuses any other with CrossNamespaceSecret', () => {
    expect(crossNamespaceProblem('team-a', 'spec.secretRef', { name: 's' })).to.equal(undefined);
    expect(crossNamespaceProblem('team-a', 'spec.secretRef', { name: 's', namespace: '' })).to.equal(undefined);
    expect(crossNamespaceProblem('team-a', 'spec.secretRef', { name: 's', namespace: 'team-a' })).to.equal(undefined);
    expect(crossNamespaceProblem('team-a', 'spec.secretRef', undefined)).to.equal(undefined);
    expect(crossNamespaceProblem('team-a', 'spec.secretRef', { name: 's', namespace: 'kube-system' })).to.match(
      /spec\.secretRef\.namespace is "kube-system".*own namespace "team-a"/,
    );
    expect(() =>
      checkSecretNamespaces('team-a', [
        ['spec.secretRef', { name: 'v' }],
        ['spec.source.secretRef', { name: 's', namespace: 'team-b' }],
      ]),
    )
      .to.throw(SpecError, /spec\.source\.secretRef/)
      .with.property('reason', 'CrossNamespaceSecret');
    expect(() =>
      checkSecretNamespaces('team-a', [
        ['spec.secretRef', { name: 'v', namespace: 'team-a' }],
        ['spec.source.secretRef', undefined],
      ]),
    ).to.not.throw();
  });

  it('resolves every reference in the own namespace', () => {
    expect(ownSecretKey('team-a', { name: 's', namespace: 'team-b' })).to.deep.equal({ namespace: 'team-a', name: 's' });
    expect(ownSecretKey('team-a', { name: '' })).to.equal(undefined);
  });
});
