import { expect } from 'chai';
import type { RoleName } from '../../../../src/api/paddlejob.js';
import { buildConfigMap, configMapData, endpoint, type MemberAddress } from '../../../../src/operators/paddlejob/configmap-builder.js';
import { collectiveJob, makeJob, psJob, template } from './fixtures.js';

const ip = (role: RoleName, i: number): MemberAddress => ({
  host: `10.0.${role === 'ps' ? 1 : role === 'worker' ? 2 : 3}.${i + 1}`,
  port: 2379,
});

describe('paddlejob ConfigMap builder', () => {
  it('PodIP: endpoints from pod IPs on port 2379', () => {
    expect(configMapData(psJob(2, 3), ip)).to.deep.equal({
      PADDLE_PORT: '2379',
      TRAINER_PORTS_NUM: '20',
      PADDLE_PSERVERS_IP_PORT_LIST: '10.0.1.1:2379,10.0.1.2:2379',
      PADDLE_TRAINER_ENDPOINTS: '10.0.2.1:2379,10.0.2.2:2379,10.0.2.3:2379',
      PADDLE_TRAINERS: '10.0.2.1,10.0.2.2,10.0.2.3',
      PADDLE_TRAINERS_NUM: '3',
    });
  });

  it('is undefined until every member has an address', () => {
    expect(configMapData(psJob(2, 3), (role, i) => (role === 'worker' && i === 2 ? undefined : ip(role, i)))).to.equal(undefined);
  });

  it('Service: endpoints by pod name', () => {
    const data = configMapData(collectiveJob(2, { intranet: 'Service' }), (role, i) => ({ host: `job-${role}-${i}`, port: 2379 }))!;
    expect(data.PADDLE_TRAINER_ENDPOINTS).to.equal('job-worker-0:2379,job-worker-1:2379');
    expect(data.PADDLE_TRAINERS).to.equal('job-worker-0,job-worker-1');
    expect(data).to.not.have.property('PADDLE_PSERVERS_IP_PORT_LIST');
  });

  it("Host: each member at its own host port; PADDLE_PORT is the first member's", () => {
    const data = configMapData(psJob(1, 2, { intranet: 'Host' }), (role, i) => ({
      host: `192.168.0.${i + 1}`,
      port: role === 'ps' ? 35000 : 35020 + 20 * i,
    }))!;
    expect(data.PADDLE_PSERVERS_IP_PORT_LIST).to.equal('192.168.0.1:35000');
    expect(data.PADDLE_TRAINER_ENDPOINTS).to.equal('192.168.0.1:35020,192.168.0.2:35040');
    expect(data.PADDLE_PORT).to.equal('35000');
  });

  it('heter endpoints', () => {
    const job = makeJob({
      ps: { replicas: 1, template: template() },
      worker: { replicas: 1, template: template() },
      heter: { replicas: 2, template: template() },
    });
    expect(configMapData(job, ip)!.PADDLE_HETER_ENDPOINTS).to.equal('10.0.3.1:2379,10.0.3.2:2379');
  });

  it('Gloo variables with withGloo: rendezvous at ps-0, or worker-0 without parameter servers', () => {
    const ps = configMapData(psJob(2, 2, { withGloo: 1 }), ip)!;
    expect(ps).to.include({ PADDLE_WITH_GLOO: '1', PADDLE_GLOO_RENDEZVOUS: '3', PADDLE_GLOO_HTTP_ENDPOINT: '10.0.1.1:2397' });
    const coll = configMapData(collectiveJob(2, { withGloo: 2 }), ip)!;
    expect(coll).to.include({ PADDLE_WITH_GLOO: '2', PADDLE_GLOO_HTTP_ENDPOINT: '10.0.2.1:2397' });
    expect(configMapData(psJob(1, 1, { withGloo: 0 }), ip)).to.not.have.property('PADDLE_WITH_GLOO');
  });

  it('brackets IPv6 hosts in endpoints', () => {
    expect(endpoint({ host: 'fd00::1', port: 2379 })).to.equal('[fd00::1]:2379');
    expect(endpoint({ host: '10.0.0.1', port: 2379 })).to.equal('10.0.0.1:2379');
  });

  it('builds the ConfigMap <job>, labelled and owned by the job', () => {
    const cm = buildConfigMap(psJob(), { A: 'b' });
    expect(cm.metadata!.name).to.equal('job');
    expect(cm.metadata!.labels).to.include({ 'paddle-job-name': 'job', 'paddle-res-name': 'job' });
    expect(cm.metadata!.ownerReferences![0]).to.include({ kind: 'PaddleJob', uid: 'uid-job', controller: true });
    expect(cm.data).to.deep.equal({ A: 'b' });
  });
});
