import { KubeConfig } from '@kubernetes/client-node';

/** A client-node KubeConfig for a server nobody listens on, with a static token: for units that build a KubeApi but never call it. */
export function offlineKubeConfig(server = 'https://127.0.0.1:1'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}
