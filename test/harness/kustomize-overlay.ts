// Overlays of the repository's kustomize bases, written as a platform engineer would write them.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { repoRoot } from './util.js';

/**
 * An overlay of kustomize/default whose only change is the image, as a platform engineer would
 * write it. Kustomize accepts only relative paths to a base, so the overlay lives inside the
 * repository (under the ignored .cache/). Returns its directory.
 */
export function writeImageOverlay(imageRef: string): string {
  const dir = fs.mkdtempSync(path.join(repoRoot(), '.cache', 'overlay-'));
  const colon = imageRef.lastIndexOf(':');
  const [newName, newTag] =
    colon > imageRef.lastIndexOf('/') ? [imageRef.slice(0, colon), imageRef.slice(colon + 1)] : [imageRef, 'latest'];
  fs.writeFileSync(
    path.join(dir, 'kustomization.yaml'),
    YAML.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [path.relative(dir, path.join(repoRoot(), 'kustomize', 'default'))],
      images: [{ name: 'paddle-operator', newName, newTag }],
    }),
  );
  return dir;
}
