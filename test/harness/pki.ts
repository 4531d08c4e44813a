// Certificates and keys for a throwaway control plane, made with the openssl CLI (ECDSA P-256, so
// generation takes milliseconds): a CA, the kube-apiserver serving certificate for 127.0.0.1 and
// localhost signed by it, an admin client certificate in group system:masters, the service-account
// signing key pair, a static bearer token for the same admin identity, and a separate front-proxy
// CA with its client certificate (the aggregation layer's request-header authentication, which
// kube-controller-manager and kube-scheduler also read for their own secure ports).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
  /** CSV file for --token-auth-file. */
  tokenFile: string;
  adminToken: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl is required by the test harness to generate certificates, and was not found on PATH');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

const serial = (): string => `0x${crypto.randomBytes(16).toString('hex')}`;
const DAYS = '3650';
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function selfSignedCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-sha256',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      DAYS,
      '-set_serial',
      serial(),
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    dir,
  );
}

async function signed(dir: string, name: string, subject: string, extensions: string[], ca = 'ca'): Promise<void> {
  await openssl(['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions.join('\n') + '\n');
  await openssl(
    [
      'x509',
      '-req',
      '-sha256',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-set_serial',
      serial(),
      '-days',
      DAYS,
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    ],
    dir,
  );
  fs.rmSync(path.join(dir, `${name}.csr`));
  fs.rmSync(path.join(dir, `${name}.ext`));
}

export interface PkiOptions {
  /** More IP addresses the kube-apiserver serving certificate is valid for (e.g. a bridge address real nodes reach it on). */
  extraServingIPs?: string[];
}

/** Generates everything into `dir` (created, mode 0700). */
export async function generatePki(dir: string, opts: PkiOptions = {}): Promise<Pki> {
  const extraSans = (opts.extraServingIPs ?? []).map((ip) => `,IP:${ip}`).join('');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const clientCert = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ];
  await Promise.all([
    selfSignedCa(dir, 'ca', 'paddle-operator-test-ca'),
    selfSignedCa(dir, 'front-proxy-ca', 'paddle-operator-test-front-proxy-ca'),
  ]);
  await Promise.all([
    signed(dir, 'front-proxy-client', '/CN=front-proxy-client', clientCert, 'front-proxy-ca'),
    signed(dir, 'apiserver', '/CN=kube-apiserver', [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      // 10.96.0.1 is the `kubernetes` Service IP in --service-cluster-ip-range=10.96.0.0/16
      `subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local${extraSans}`,
    ]),
    signed(dir, 'admin', '/O=system:masters/CN=paddle-admin', clientCert),
    (async () => {
      await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'sa.key'], dir);
      await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
    })(),
  ]);
  const adminToken = crypto.randomBytes(24).toString('hex');
  const tokenFile = path.join(dir, 'tokens.csv');
  fs.writeFileSync(tokenFile, `${adminToken},paddle-admin-token,paddle-admin-token,system:masters\n`, { mode: 0o600 });
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('apiserver.crt'),
    servingKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
    frontProxyCaCert: p('front-proxy-ca.crt'),
    frontProxyClientCert: p('front-proxy-client.crt'),
    frontProxyClientKey: p('front-proxy-client.key'),
    tokenFile,
    adminToken,
  };
}

export interface ClientCertificate {
  cert: string;
  key: string;
}

/**
 * Issues a client certificate signed by the cluster CA of `pki` into `outDir` as <name>.crt and
 * <name>.key (e.g. CN=system:node:<node>, O=system:nodes for a kubelet; CN=system:kube-proxy).
 */
export async function issueClientCertificate(
  pki: Pki,
  outDir: string,
  name: string,
  commonName: string,
  organization?: string,
): Promise<ClientCertificate> {
  fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const subject = `${organization ? `/O=${organization}` : ''}/CN=${commonName}`;
  const ca = pki.caCert.replace(/\.crt$/, '');
  await signed(
    outDir,
    name,
    subject,
    ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'],
    ca,
  );
  return { cert: path.join(outDir, `${name}.crt`), key: path.join(outDir, `${name}.key`) };
}

export interface ServingCertificate {
  /** PEM of the CA that signed the leaf (what a webhook configuration's caBundle holds). */
  caCert: string;
  /** Files of the leaf in `dir`: `tls.crt` and `tls.key`, as a kubernetes.io/tls Secret mounts them. */
  certFile: string;
  keyFile: string;
}

/**
 * A CA of its own (`<caName>.crt/.key` in `dir`) and a serving certificate it signs for
 * `subjectAltNames` (e.g. `IP:127.0.0.1`), written to `dir` as `tls.crt` and `tls.key`. Issuing
 * again with the same `caName` reuses that CA (a rotated leaf the same caBundle still trusts).
 */
export async function issueServingCertificate(dir: string, subjectAltNames: string[], caName = 'serving-ca'): Promise<ServingCertificate> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(path.join(dir, `${caName}.crt`))) await selfSignedCa(dir, caName, `paddle-operator-test-${caName}`);
  await signed(
    dir,
    'tls',
    '/CN=paddle-operator-webhook',
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${subjectAltNames.join(',')}`,
    ],
    caName,
  );
  return {
    caCert: fs.readFileSync(path.join(dir, `${caName}.crt`), 'utf8'),
    certFile: path.join(dir, 'tls.crt'),
    keyFile: path.join(dir, 'tls.key'),
  };
}
