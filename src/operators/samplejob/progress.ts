/**
 * Progress of a SampleJob summed over its runtime pods (pure).
 *
 * Counts (files and bytes done / total) are plain sums. The percentage is byte-weighted (or
 * file-weighted when no bytes are known) once every unfinished pod knows its total; before that it
 * is the mean of the pods' own fractions, so one fast pod cannot make a 2-pod job look finished.
 * It never shows 100% before every pod has succeeded.
 */
import type { JobProgress } from '../../api/samplejob.js';
import type { JobProgressReport } from '../../api/runtime-protocol.js';

/** `Removed`: the node's partition was scaled away while the run went on (its share is not done). */
export type NodePhase = 'Waiting' | 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Removed';

export interface NodeProgress {
  /** A NodePhase as a rule, but read back from the status, so any string. */
  phase: string | undefined;
  progress?: JobProgressReport;
}

function fraction(done: number | undefined, total: number | undefined): number | undefined {
  if (total === undefined || total <= 0) return undefined;
  return Math.min(1, Math.max(0, (done ?? 0) / total));
}

function nodeFraction(n: NodeProgress): number {
  if (n.phase === 'Succeeded') return 1;
  const p = n.progress;
  return fraction(p?.bytesDone, p?.bytesTotal) ?? fraction(p?.filesDone, p?.filesTotal) ?? 0;
}

export function formatPercent(f: number): string {
  return `${Math.floor(Math.min(1, Math.max(0, f)) * 100)}%`;
}

export function aggregateProgress(all: readonly NodeProgress[]): JobProgress {
  const out: JobProgress = {};
  // a partition scaled away is no longer part of the run
  const nodes = all.filter((n) => n.phase !== 'Removed');
  if (nodes.length === 0) return out;
  const sum = (k: keyof JobProgressReport): number | undefined => {
    let any = false;
    let s = 0;
    for (const n of nodes) {
      const v = n.progress?.[k];
      if (typeof v === 'number' && Number.isFinite(v)) {
        any = true;
        s += v;
      }
    }
    return any ? s : undefined;
  };
  const filesDone = sum('filesDone');
  const filesTotal = sum('filesTotal');
  const bytesDone = sum('bytesDone');
  const bytesTotal = sum('bytesTotal');
  if (filesDone !== undefined) out.filesDone = filesDone;
  if (filesTotal !== undefined) out.filesTotal = filesTotal;
  if (bytesDone !== undefined) out.bytesDone = bytesDone;
  if (bytesTotal !== undefined) out.bytesTotal = bytesTotal;

  const allSucceeded = nodes.every((n) => n.phase === 'Succeeded');
  if (allSucceeded) {
    out.percent = '100%';
    return out;
  }
  const unfinished = nodes.filter((n) => n.phase !== 'Succeeded');
  const everyBytesKnown = unfinished.every((n) => (n.progress?.bytesTotal ?? 0) > 0);
  const everyFilesKnown = unfinished.every((n) => (n.progress?.filesTotal ?? 0) > 0);
  let f: number | undefined;
  if (everyBytesKnown && nodes.every((n) => n.phase !== 'Succeeded' || (n.progress?.bytesTotal ?? 0) > 0)) {
    f = fraction(bytesDone, bytesTotal);
  } else if (everyFilesKnown && nodes.every((n) => n.phase !== 'Succeeded' || (n.progress?.filesTotal ?? 0) > 0)) {
    f = fraction(filesDone, filesTotal);
  }
  if (f === undefined) {
    const started = nodes.some((n) => n.phase === 'Succeeded' || n.progress !== undefined);
    if (!started) return out;
    f = nodes.reduce((a, n) => a + nodeFraction(n), 0) / nodes.length;
  }
  out.percent = formatPercent(Math.min(f, 0.99));
  return out;
}
