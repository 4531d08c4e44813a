import { expect } from 'chai';
import { CREATED_BY_LABEL, RUNTIME_PORT, SAMPLESET_LABEL } from '../../../../src/api/constants.js';
import { SpecError } from '../../../../src/engines/cache-engine.js';
import { JuiceFsEngine } from '../../../../src/engines/juicefs/juicefs-engine.js';
import { parseMountOptions } from '../../../../src/engines/juicefs/mount-options.js';
import { parseRuntimeArgs } from '../../../../src/api/runtime-cli.js';
import { sampleSet, secret } from '../fixtures.js';

const engine = new JuiceFsEngine({ cacheRoots: ['/dev/shm/paddle', '/mnt/ssd0', '/mnt/ssd1'] });

function build(spec: Parameters<typeof sampleSet>[0] = {}, name = 'imagenet', ns = 'ml') {
  const s = sampleSet(spec, name, ns);
  return {
    s,
    objs: engine.buildObjects({
      sampleSet: s,
      volumeSecret: secret({ name: 'imagenet', metaurl: 'redis://r:6379/1' }),
      runtimeToken: 'tok-123456789012345678',
      runtimeImage: 'paddle-operator:test',
    }),
  };
}

describe('juicefs engine objects', () => {
  it('names objects per SampleSet; the PV name is unique per namespace/name', () => {
    const { s } = build();
    expect(engine.name).to.equal('juicefs');
    expect(engine.persistentVolumeName(s)).to.equal('ml.imagenet');
    expect(engine.persistentVolumeClaimName(s)).to.equal('imagenet');
    expect(engine.statefulSetName(s)).to.equal('imagenet-runtime');
    expect(engine.serviceName(s)).to.equal('imagenet-runtime');
    expect(engine.tokenSecretName(s)).to.equal('imagenet-runtime-token');
    expect(engine.nodeLabelKey(s)).to.equal('paddlepaddle.org/juicefs-imagenet');
    // a-b/c and a/b-c must not collide
    expect(engine.persistentVolumeName(sampleSet({}, 'c', 'a-b'))).to.not.equal(engine.persistentVolumeName(sampleSet({}, 'b-c', 'a')));
  });

  it('keeps runtime names short enough for the StatefulSet revision label, even for 55-character SampleSets', () => {
    const long = 'x'.repeat(40) + '-abcdefghijklmn'; // 55 characters, the CRD's maximum
    const other = 'x'.repeat(40) + '-abcdefghijklmo';
    const sts = engine.statefulSetName(sampleSet({}, long, 'ml'));
    expect(sts.length).to.be.at.most(52);
    expect(`${sts}-`.length + 10).to.be.at.most(63); // controller-revision-hash=<sts>-<hash up to 10>
    expect(`${sts}-99`.length).to.be.at.most(63); // pod names, and the node label value
    expect(sts).to.not.equal(engine.statefulSetName(sampleSet({}, other, 'ml')));
    expect(engine.statefulSetName(sampleSet({}, 'x'.repeat(44), 'ml'))).to.equal('x'.repeat(44) + '-runtime');
  });

  it('builds the CSI PV and a PVC bound to exactly it', () => {
    const { objs } = build({ secretRef: { name: 'vol-secret' }, csi: { juiceFSMountOptions: { writeback: true } } });
    const pv = objs.persistentVolume;
    expect(pv.metadata?.name).to.equal('ml.imagenet');
    expect(pv.metadata?.ownerReferences).to.equal(undefined);
    expect(pv.spec?.csi?.driver).to.equal('csi.juicefs.com');
    expect(pv.spec?.csi?.fsType).to.equal('juicefs');
    expect(pv.spec?.csi?.volumeHandle).to.match(/^ml-imagenet-[0-9a-f]{10}$/);
    expect(pv.spec?.csi?.nodePublishSecretRef).to.deep.equal({ name: 'vol-secret', namespace: 'ml' });
    expect(pv.spec?.accessModes).to.deep.equal(['ReadWriteMany']);
    expect(pv.spec?.persistentVolumeReclaimPolicy).to.equal('Retain');
    expect(pv.spec?.storageClassName).to.equal('paddle-operator');
    expect(pv.spec?.capacity).to.deep.equal({ storage: '10Pi' });
    expect(pv.spec?.claimRef).to.include({ namespace: 'ml', name: 'imagenet' });
    const opts = parseMountOptions(pv.spec!.csi!.volumeAttributes!.mountOptions);
    expect(opts.get('writeback')).to.equal('');
    expect(opts.get('cache-size')).to.equal('102400');
    expect(pv.metadata?.labels).to.include({
      [SAMPLESET_LABEL]: 'imagenet',
      'paddlepaddle.org/sampleset-namespace': 'ml',
      [CREATED_BY_LABEL]: 'paddle-operator',
    });

    const pvc = objs.persistentVolumeClaim;
    expect(pvc.metadata).to.include({ name: 'imagenet', namespace: 'ml' });
    expect(pvc.spec?.volumeName).to.equal('ml.imagenet');
    expect(pvc.spec?.storageClassName).to.equal('paddle-operator');
    expect(pvc.spec?.accessModes).to.deep.equal(['ReadWriteMany']);
    expect(pvc.spec?.selector?.matchLabels).to.deep.equal({ [SAMPLESET_LABEL]: 'imagenet', 'paddlepaddle.org/sampleset-namespace': 'ml' });
    for (const [k, v] of Object.entries(pvc.spec!.selector!.matchLabels!)) expect(pv.metadata!.labels![k]).to.equal(v);
  });

  // Class 7 of issue 12: the CSI driver reads nodePublishSecretRef with its own rights.
  it("always takes the volume Secret from the SampleSet's own namespace, whatever secretRef.namespace says", () => {
    expect(
      build({ secretRef: { name: 'shared', namespace: 'juicefs' } }).objs.persistentVolume.spec?.csi?.nodePublishSecretRef,
    ).to.deep.equal({ name: 'shared', namespace: 'ml' });
    expect(build({ secretRef: { name: 'shared' } }).objs.persistentVolume.spec?.csi?.nodePublishSecretRef).to.deep.equal({
      name: 'shared',
      namespace: 'ml',
    });
  });

  it('builds the runtime StatefulSet', () => {
    const nodeAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'cache', operator: 'In', values: ['true'] }] }],
      },
    };
    const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'cache', effect: 'NoSchedule' }];
    const { objs } = build({
      partitions: 3,
      nodeAffinity,
      tolerations,
      cache: {
        levels: [
          { mediumType: 'MEM', path: '/dev/shm/paddle/imagenet', cacheSize: 100 },
          { mediumType: 'SSD', path: '/mnt/ssd0/i:/mnt/ssd1', cacheSize: 200 },
        ],
      },
    });
    const sts = objs.statefulSet;
    expect(sts.metadata).to.include({ name: 'imagenet-runtime', namespace: 'ml' });
    expect(sts.metadata?.ownerReferences).to.equal(undefined);
    expect(sts.spec?.replicas).to.equal(3);
    expect(sts.spec?.podManagementPolicy).to.equal('Parallel');
    expect(sts.spec?.serviceName).to.equal('imagenet-runtime');
    const sel = sts.spec!.selector.matchLabels!;
    expect(sel).to.deep.equal({ [SAMPLESET_LABEL]: 'imagenet', 'app.kubernetes.io/component': 'cache-runtime' });
    const tpl = sts.spec!.template;
    for (const [k, v] of Object.entries(sel)) expect(tpl.metadata!.labels![k]).to.equal(v);
    const pod = tpl.spec!;
    const anti = pod.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0];
    expect(anti.topologyKey).to.equal('kubernetes.io/hostname');
    expect(anti.labelSelector?.matchLabels).to.deep.equal(sel);
    expect(pod.affinity!.nodeAffinity).to.deep.equal(nodeAffinity);
    expect(pod.tolerations).to.deep.equal(tolerations);
    expect(pod.automountServiceAccountToken).to.equal(false);

    const hostPaths = pod.volumes!.filter((v) => v.hostPath).map((v) => [v.name, v.hostPath!.path, v.hostPath!.type]);
    expect(hostPaths).to.deep.equal([
      ['cache-0', '/dev/shm/paddle/ml_imagenet/imagenet', 'DirectoryOrCreate'],
      ['cache-1', '/mnt/ssd0/ml_imagenet/i', 'DirectoryOrCreate'],
      ['cache-2', '/mnt/ssd1/ml_imagenet', 'DirectoryOrCreate'],
    ]);
    // the PV's cache-dir is the same per-SampleSet directories
    const pvOpts = parseMountOptions(objs.persistentVolume.spec!.csi!.volumeAttributes!.mountOptions);
    expect(pvOpts.get('cache-dir')).to.equal(hostPaths.map((h) => h[1]).join(':'));
    expect(pod.volumes!.find((v) => v.name === 'data')?.persistentVolumeClaim?.claimName).to.equal('imagenet');

    expect(pod.containers).to.have.length(1);
    const c = pod.containers[0];
    expect(c.name).to.equal('runtime');
    expect(c.image).to.equal('paddle-operator:test');
    expect(c.command).to.deep.equal(['paddle-runtime']);
    const parsed = parseRuntimeArgs(c.args!);
    expect(parsed).to.include({ command: 'serve', engine: 'juicefs', dataDir: '/data', host: '0.0.0.0', port: RUNTIME_PORT });
    expect(parsed.cacheDirs).to.deep.equal(['/cache/0', '/cache/1', '/cache/2']);
    expect(parsed.hostCacheDirs).to.deep.equal([
      '/dev/shm/paddle/ml_imagenet/imagenet',
      '/mnt/ssd0/ml_imagenet/i',
      '/mnt/ssd1/ml_imagenet',
    ]);
    const mounts = Object.fromEntries(c.volumeMounts!.map((m) => [m.name, m]));
    expect(mounts.data).to.include({ mountPath: '/data', mountPropagation: 'HostToContainer' });
    expect(mounts['cache-1'].mountPath).to.equal('/cache/1');
    expect(c.ports).to.deep.equal([{ name: 'runtime', containerPort: 7716, protocol: 'TCP' }]);
    expect(c.readinessProbe?.httpGet).to.include({ path: '/healthz', port: 'runtime' });
    expect(c.livenessProbe?.httpGet).to.include({ path: '/healthz', port: 'runtime' });
    const tokenEnv = c.env!.find((e) => e.name === 'PADDLE_RUNTIME_TOKEN');
    expect(tokenEnv?.valueFrom?.secretKeyRef).to.deep.equal({ name: 'imagenet-runtime-token', key: 'token' });
    expect(tokenEnv?.value).to.equal(undefined);
    const preStop = c.lifecycle!.preStop!.exec!.command!;
    expect(preStop[0]).to.equal('paddle-runtime');
    const clean = parseRuntimeArgs(preStop.slice(1));
    expect(clean.command).to.equal('clean-cache');
    expect(clean.cacheDirs).to.deep.equal(parsed.cacheDirs);
    expect(clean.hostCacheDirs).to.deep.equal(parsed.hostCacheDirs);
    expect(clean.dataDir).to.equal('/data');
    expect(c.securityContext).to.include({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsUser: 0,
    });
    expect(c.securityContext?.capabilities?.drop).to.deep.equal(['ALL']);
    expect(c.securityContext?.capabilities?.add).to.not.include('SYS_ADMIN');
  });

  it('mounts the default cache dir when there are no levels', () => {
    const { objs } = build();
    const vols = objs.statefulSet.spec!.template.spec!.volumes!.filter((v) => v.hostPath);
    expect(vols.map((v) => v.hostPath!.path)).to.deep.equal(['/dev/shm/paddle/ml_imagenet']);
    expect(
      new JuiceFsEngine()
        .buildObjects({ sampleSet: sampleSet(), volumeSecret: secret({}), runtimeToken: 't', runtimeImage: 'i' })
        .statefulSet.spec!.template.spec!.volumes!.find((v) => v.hostPath)!.hostPath!.path,
    ).to.equal('/var/lib/paddle-operator/cache/ml_imagenet');
  });

  it("refuses a cache level outside the engine's cache roots (InvalidCacheDir) in validateSpec and buildObjects", () => {
    const bad = { cache: { levels: [{ mediumType: 'SSD' as const, path: '/var/lib/etcd' }] } };
    for (const fn of [() => engine.validateSpec(sampleSet(bad)), () => build(bad)]) {
      try {
        fn();
        expect.fail('expected InvalidCacheDir');
      } catch (e) {
        expect(e).to.be.instanceOf(SpecError);
        expect((e as SpecError).reason).to.equal('InvalidCacheDir');
        expect((e as SpecError).message).to.include('/dev/shm/paddle, /mnt/ssd0, /mnt/ssd1');
      }
    }
    expect(() => new JuiceFsEngine({ cacheRoots: ['/'] })).to.throw();
  });

  it('builds the headless Service and the token Secret', () => {
    const { objs } = build();
    const svc = objs.service;
    expect(svc.metadata).to.include({ name: 'imagenet-runtime', namespace: 'ml' });
    expect(svc.spec?.clusterIP).to.equal('None');
    expect(svc.spec?.selector).to.deep.equal(objs.statefulSet.spec!.selector.matchLabels);
    expect(svc.spec?.ports).to.deep.equal([{ name: 'runtime', port: 7716, targetPort: 'runtime', protocol: 'TCP' }]);
    const sec = objs.tokenSecret;
    expect(sec.metadata).to.include({ name: 'imagenet-runtime-token', namespace: 'ml' });
    expect(Buffer.from(sec.data!.token, 'base64').toString()).to.equal('tok-123456789012345678');
  });

  it('is pure: same input, same objects', () => {
    expect(JSON.stringify(build().objs)).to.equal(JSON.stringify(build().objs));
  });
});

describe('juicefs engine validation', () => {
  const s = sampleSet();
  it('requires name and metaurl in the volume Secret, naming the missing key', () => {
    expect(() => engine.validateVolumeSecret(secret({ name: 'imagenet', metaurl: 'redis://r/1' }), s)).to.not.throw();
    expect(() =>
      engine.validateVolumeSecret(
        secret({ name: 'imagenet', metaurl: 'redis://r/1', storage: 's3', bucket: 'b', 'access-key': 'a', 'secret-key': 's' }),
        s,
      ),
    ).to.not.throw();
    for (const [data, key] of [
      [{ metaurl: 'redis://r/1' }, 'name'],
      [{ name: 'imagenet' }, 'metaurl'],
      [{ name: 'imagenet', metaurl: '  ' }, 'metaurl'],
    ] as const) {
      try {
        engine.validateVolumeSecret(secret(data), s);
        expect.fail('should throw');
      } catch (err) {
        expect((err as SpecError).reason).to.equal('SecretKeyMissing');
        expect((err as SpecError).message).to.include(`"${key}"`);
      }
    }
  });

  it('reports a missing Secret as SecretNotFound and a bad volume name as SecretKeyInvalid', () => {
    try {
      engine.validateVolumeSecret(undefined, s);
      expect.fail('should throw');
    } catch (err) {
      expect((err as SpecError).reason).to.equal('SecretNotFound');
      expect((err as SpecError).message).to.include('ml/imagenet-juicefs');
    }
    try {
      engine.validateVolumeSecret(secret({ name: 'Bad_Name', metaurl: 'redis://r/1' }), s);
      expect.fail('should throw');
    } catch (err) {
      expect((err as SpecError).reason).to.equal('SecretKeyInvalid');
    }
  });

  it('never puts Secret values in messages', () => {
    try {
      engine.validateVolumeSecret(secret({ name: 'x', metaurl: 'redis://:hunter2@r/1' }), s);
    } catch (err) {
      expect((err as Error).message).to.not.include('hunter2');
    }
  });

  it('validates the spec', () => {
    expect(() => engine.validateSpec(s)).to.not.throw();
    expect(() => engine.validateSpec(sampleSet({ source: undefined, noSync: true }))).to.not.throw();
    expect(() => engine.validateSpec(sampleSet({ source: undefined }))).to.throw(SpecError, /source/);
    expect(() => engine.validateSpec(sampleSet({ source: { uri: 'http://x/y' } }))).to.throw(SpecError, /not supported/);
    expect(() => engine.validateSpec(sampleSet({ source: { uri: 's3://ak:sk@bucket/x' } }))).to.throw(SpecError, /credentials/);
    expect(() => engine.validateSpec(sampleSet({ partitions: 0 }))).to.throw(SpecError, /partitions/);
    expect(() => engine.validateSpec(sampleSet({ csi: { juiceFSMountOptions: { 'free-space-ratio': '1.5' } } }))).to.throw(SpecError);
  });
});
