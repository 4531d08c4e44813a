// Overlays of the repository's kustomize bases, written as a platform engineer would write them.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { repoRoot } from './util.js';

/**
 * An overlay of kustomize/default, as a platform engineer would write it: `components` are
 * repository paths (e.g. `kustomize/webhook-cert-manager`), `extra` more kustomization fields.
 * Kustomize accepts only relative paths to a base, so the overlay lives inside the repository
 * (under the ignored .cache/). Returns its directory.
 */
export function writeOverlay(opts: { components?: string[]; extra?: Record<string, unknown> } = {}): string {
  const dir = fs.mkdtempSync(path.join(repoRoot(), '.cache', 'overlay-'));
  const rel = (p: string): string => path.relative(dir, path.join(repoRoot(), p));
  fs.writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    YAML.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [rel('kustomize/default')],
      ...(opts.components?.length ? { components: opts.components.map(rel) } : {}),
      ...opts.extra,
    }),
  );
  return dir;
}

/** An overlay of kustomize/default whose only change is the image. Returns its directory. */
export function writeImageOverlay(imageRef: string): string {
  const colon = imageRef.lastIndexOf(':');
  const [newName, newTag] =
    colon > imageRef.lastIndexOf('/') ? [imageRef.slice(0, colon), imageRef.slice(colon + 1)] : [imageRef, 'latest'];
  return writeOverlay({ extra: { images: [{ name: 'paddle-operator', newName, newTag }] } });
}
