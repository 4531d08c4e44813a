import { expect } from 'chai';
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { PADDLE_JOB_NAME, PADDLE_RES_INDEX, PADDLE_RES_NAME, PADDLE_RES_TYPE } from '../../../../src/api/constants.js';
import { sampleSetBinding } from '../../../../src/operators/paddlejob/cache-affinity.js';
import { JuiceFsEngine } from '../../../../src/engines/juicefs/juicefs-engine.js';
import { buildPod, defaultRestartPolicy } from '../../../../src/operators/paddlejob/pod-builder.js';
import { makeJob, makeSampleSet, psJob, template } from './fixtures.js';

function envOf(pod: V1Pod, container = 0): Record<string, V1EnvVar> {
  return Object.fromEntries((pod.spec!.containers[container].env ?? []).map((e) => [e.name, e]));
}

describe('paddlejob pod builder', () => {
  it('names, labels and owns the pod', () => {
    const pod = buildPod(psJob(), 'worker', 1);
    expect(pod.metadata!.name).to.equal('job-worker-1');
    expect(pod.metadata!.namespace).to.equal('ns');
    expect(pod.metadata!.labels).to.include({
      [PADDLE_JOB_NAME]: 'job',
      [PADDLE_RES_TYPE]: 'worker',
      [PADDLE_RES_INDEX]: '1',
      [PADDLE_RES_NAME]: 'job-worker-1',
    });
    expect(pod.metadata!.annotations).to.include({ 'paddle-resource': 'worker' });
    expect(pod.metadata!.ownerReferences).to.deep.equal([
      {
        apiVersion: 'batch.paddlepaddle.org/v1',
        kind: 'PaddleJob',
        name: 'job',
        uid: 'uid-job',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('keeps template labels and annotations, ours win on conflicts', () => {
    const job = psJob();
    job.spec.worker!.template!.metadata = { labels: { team: 'a', [PADDLE_RES_TYPE]: 'bogus' }, annotations: { note: 'x' } };
    const pod = buildPod(job, 'worker', 0);
    expect(pod.metadata!.labels).to.include({ team: 'a', [PADDLE_RES_TYPE]: 'worker' });
    expect(pod.metadata!.annotations).to.include({ note: 'x' });
  });

  it('puts the Paddle environment contract on every container', () => {
    const job = psJob();
    job.spec.ps!.template!.spec!.containers.push({
      name: 'sidecar',
      image: 'side',
      env: [
        { name: 'PADDLE_TRAINER_ID', value: 'user' },
        { name: 'KEEP', value: '1' },
      ],
    });
    const pod = buildPod(job, 'ps', 1);
    for (let c = 0; c < 2; c++) {
      const env = envOf(pod, c);
      expect(env.POD_IP.valueFrom?.fieldRef?.fieldPath).to.equal('status.podIP');
      expect(env.PADDLE_TRAINER_ID.value).to.equal('1');
      expect(env.TRAINING_ROLE.value).to.equal('PSERVER');
      expect(env.PADDLE_TRAINING_ROLE.value).to.equal('PSERVER');
      expect(pod.spec!.containers[c].envFrom).to.deep.equal([{ configMapRef: { name: 'job' } }]);
    }
    expect(envOf(pod, 1).KEEP.value).to.equal('1');
    expect(pod.spec!.containers[1].env!.filter((e) => e.name === 'PADDLE_TRAINER_ID')).to.have.length(1);
    expect(envOf(buildPod(job, 'worker', 2)).TRAINING_ROLE.value).to.equal('TRAINER');
    const heter = makeJob({ heter: { replicas: 1, template: template() }, worker: { replicas: 1, template: template() } });
    expect(envOf(buildPod(heter, 'heter', 0)).PADDLE_TRAINING_ROLE.value).to.equal('HETER');
  });

  it('does not modify the job', () => {
    const job = psJob();
    const before = JSON.stringify(job);
    buildPod(job, 'worker', 0, { sampleSet: sampleSetBinding(makeSampleSet(), '/data', new JuiceFsEngine()) });
    expect(JSON.stringify(job)).to.equal(before);
  });

  it('Service intranet: POD_IP is the pod name and port 2379 is declared', () => {
    const pod = buildPod(psJob(1, 1, { intranet: 'Service' }), 'ps', 0);
    expect(envOf(pod).POD_IP.value).to.equal('job-ps-0');
    expect(pod.spec!.containers[0].ports).to.deep.equal([{ name: 'paddle', containerPort: 2379, protocol: 'TCP' }]);
    expect(pod.spec!.hostNetwork).to.equal(undefined);
  });

  it('Host intranet: host network, PADDLE_PORT per pod and the port block declared as host ports', () => {
    const pod = buildPod(psJob(1, 1, { intranet: 'Host' }), 'worker', 0, { hostPort: 35020 });
    expect(pod.spec!.hostNetwork).to.equal(true);
    expect(pod.spec!.dnsPolicy).to.equal('ClusterFirstWithHostNet');
    expect(envOf(pod).PADDLE_PORT.value).to.equal('35020');
    const ports = pod.spec!.containers[0].ports!;
    expect(ports).to.have.length(20);
    expect(ports[0]).to.deep.equal({ name: 'paddle', containerPort: 35020, hostPort: 35020, protocol: 'TCP' });
    expect(ports[19].hostPort).to.equal(35039);
  });

  it('restart policy: the template wins, else OnFailure for elastic jobs and Service-intranet workers, else Never', () => {
    expect(buildPod(psJob(), 'worker', 0).spec!.restartPolicy).to.equal('Never');
    expect(defaultRestartPolicy(psJob(1, 1, { intranet: 'Service' }), 'worker')).to.equal('OnFailure');
    expect(defaultRestartPolicy(psJob(1, 1, { intranet: 'Service' }), 'ps')).to.equal('Never');
    expect(defaultRestartPolicy(psJob(1, 1, { elastic: 1 }), 'ps')).to.equal('OnFailure');
    const job = psJob();
    job.spec.worker!.template!.spec!.restartPolicy = 'Always';
    expect(buildPod(job, 'worker', 0).spec!.restartPolicy).to.equal('Always');
  });

  it('elastic jobs get the elastic variables and no ConfigMap', () => {
    const pod = buildPod(psJob(1, 4, { elastic: 1 }), 'worker', 0, { elasticServer: 'http://etcd:2379' });
    const env = envOf(pod);
    expect(env.PADDLE_ELASTIC_JOB_ID.value).to.equal('ns-job');
    expect(env.PADDLE_ELASTIC_NP.value).to.equal('4');
    expect(env.PADDLE_ELASTIC_TIMEOUT.value).to.equal('60');
    expect(env.PADDLE_ELASTIC_SERVER.value).to.equal('http://etcd:2379');
    expect(pod.spec!.containers[0].envFrom).to.equal(undefined);
  });

  it('gang scheduling: scheduler name and Volcano annotations', () => {
    const pod = buildPod(psJob(), 'ps', 0, { gang: { schedulerName: 'volcano', queue: 'q1' } });
    expect(pod.spec!.schedulerName).to.equal('volcano');
    expect(pod.metadata!.annotations).to.include({
      'scheduling.k8s.io/group-name': 'job',
      'volcano.sh/task-spec': 'ps',
      'volcano.sh/job-name': 'job',
      'volcano.sh/queue-name': 'q1',
    });
  });

  it('mounts the SampleSet claim in every container of every role and pins partition pods', () => {
    const job = psJob(3, 3);
    for (const role of ['ps', 'worker'] as const) {
      job.spec[role]!.template!.spec!.containers.push({ name: 'second', image: 'y' });
      job.spec[role]!.template!.spec!.initContainers = [{ name: 'init', image: 'z' }];
    }
    const binding = sampleSetBinding(makeSampleSet('imagenet', 2), '/mnt/imagenet', new JuiceFsEngine());
    for (const role of ['ps', 'worker'] as const) {
      for (let i = 0; i < 3; i++) {
        const pod = buildPod(job, role, i, { sampleSet: binding });
        expect(pod.spec!.volumes).to.deep.include({ name: 'paddle-sampleset', persistentVolumeClaim: { claimName: 'imagenet' } });
        for (const c of [...pod.spec!.containers, ...pod.spec!.initContainers!]) {
          expect(c.volumeMounts, `${pod.metadata!.name}/${c.name}`).to.deep.include({
            name: 'paddle-sampleset',
            mountPath: '/mnt/imagenet',
          });
        }
        const terms = pod.spec!.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
        if (i < 2) {
          expect(terms).to.deep.equal([
            { matchExpressions: [{ key: 'paddlepaddle.org/juicefs-imagenet', operator: 'In', values: [`imagenet-runtime-${i}`] }] },
          ]);
        } else {
          expect(terms, 'beyond the partitions: no cache affinity').to.equal(undefined);
        }
      }
    }
  });
});

describe('paddlejob per-pod Service builder', () => {
  it('is headless, named and selecting like the pod, with the 20 Paddle ports, owned by the job', async () => {
    const { buildPodService } = await import('../../../../src/operators/paddlejob/service-builder.js');
    const svc = buildPodService(psJob(), 'worker', 2);
    expect(svc.metadata!.name).to.equal('job-worker-2');
    expect(svc.metadata!.labels).to.include({ [PADDLE_JOB_NAME]: 'job', [PADDLE_RES_NAME]: 'job-worker-2' });
    expect(svc.metadata!.ownerReferences![0]).to.include({ kind: 'PaddleJob', uid: 'uid-job', controller: true });
    expect(svc.spec!.clusterIP).to.equal('None');
    expect(svc.spec!.publishNotReadyAddresses).to.equal(true);
    expect(svc.spec!.selector).to.deep.equal({ [PADDLE_JOB_NAME]: 'job', [PADDLE_RES_NAME]: 'job-worker-2' });
    expect(svc.spec!.ports!.map((p) => [p.name, p.port])).to.deep.equal(Array.from({ length: 20 }, (_, i) => [`p-${i}`, 2379 + i]));
  });
});
