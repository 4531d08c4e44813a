/**
 * Host intranet port allocation. Every member pod of a Host-intranet job gets its own block of
 * TRAINER_PORTS_NUM host ports (two members of one job may land on the same node), taken from a
 * configurable range without overlapping any other job's blocks. The table of a job lives in its
 * annotation `paddlepaddle.org/host-ports`; this class is the in-memory index over all jobs, rebuilt
 * from those annotations (the informer cache) after a restart.
 */
import { TRAINER_PORTS_NUM } from './constants.js';
import { compareText } from '../../api/compare-text.js';

/** member key (`<role>-<index>`) → first port of its block. */
export type HostPortTable = Record<string, number>;

export interface PortRange {
  min: number;
  max: number;
}

export const DEFAULT_HOST_PORT_RANGE: PortRange = { min: 35000, max: 65000 };

/** Reads the annotation; anything malformed counts as empty (and is rewritten on allocation). */
export function parseHostPorts(annotation: string | undefined): HostPortTable {
  if (!annotation) return {};
  try {
    const v = JSON.parse(annotation) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return {};
    const out: HostPortTable = {};
    for (const [k, p] of Object.entries(v as Record<string, unknown>)) {
      if (typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536) out[k] = p;
    }
    return out;
  } catch {
    return {};
  }
}

/** JSON with sorted keys, so equal tables give equal annotations. */
export function formatHostPorts(table: HostPortTable): string {
  return JSON.stringify(Object.fromEntries(Object.entries(table).sort(([a], [b]) => compareText(a, b))));
}

export class HostPortAllocator {
  /** port → owning job key, for every port of every block. */
  private readonly owner = new Map<number, string>();
  /** job key → its table. */
  private readonly jobs = new Map<string, HostPortTable>();
  private cursor: number;

  constructor(
    readonly range: PortRange = DEFAULT_HOST_PORT_RANGE,
    readonly blockSize = TRAINER_PORTS_NUM,
  ) {
    if (!(range.min > 0 && range.max < 65536 && range.max - range.min + 1 >= blockSize)) {
      throw new Error(`host port range ${range.min}-${range.max} cannot hold a block of ${blockSize} ports`);
    }
    this.cursor = range.min;
  }

  /**
   * Records blocks a job already holds (from its annotation). Blocks are added to what the job has;
   * a block overlapping another job's is not recorded and its member key is returned.
   */
  reserve(jobKey: string, table: HostPortTable): string[] {
    const conflicts: string[] = [];
    const mine = this.jobs.get(jobKey) ?? {};
    for (const [member, base] of Object.entries(table)) {
      if (mine[member] === base) continue;
      if (!this.blockFree(base, jobKey)) {
        conflicts.push(member);
        continue;
      }
      if (mine[member] !== undefined) this.freeBlock(mine[member]);
      this.takeBlock(base, jobKey);
      mine[member] = base;
    }
    if (Object.keys(mine).length) this.jobs.set(jobKey, mine);
    return conflicts;
  }

  /**
   * Gives each of `members` that has no block yet a free block (all or nothing) and returns the
   * job's whole table, or undefined when the range is exhausted.
   */
  allocate(jobKey: string, members: string[]): HostPortTable | undefined {
    const mine = { ...(this.jobs.get(jobKey) ?? {}) };
    const wanted = members.filter((m) => mine[m] === undefined);
    const got: number[] = [];
    for (let i = 0; i < wanted.length; i++) {
      const base = this.findFree();
      if (base === undefined) {
        for (const b of got) this.freeBlock(b);
        return undefined;
      }
      this.takeBlock(base, jobKey);
      got.push(base);
      mine[wanted[i]] = base;
    }
    this.jobs.set(jobKey, mine);
    return { ...mine };
  }

  /** Frees the blocks of `members` of a job, or all of its blocks. */
  release(jobKey: string, members?: string[]): void {
    const mine = this.jobs.get(jobKey);
    if (!mine) return;
    for (const m of members ?? Object.keys(mine)) {
      if (mine[m] === undefined) continue;
      this.freeBlock(mine[m]);
      delete mine[m];
    }
    if (!Object.keys(mine).length) this.jobs.delete(jobKey);
  }

  tableOf(jobKey: string): HostPortTable {
    return { ...(this.jobs.get(jobKey) ?? {}) };
  }

  /** Number of whole blocks still free (aligned to the range start). */
  get freeBlocks(): number {
    let n = 0;
    for (let b = this.range.min; b + this.blockSize - 1 <= this.range.max; b += this.blockSize) if (this.blockFree(b)) n++;
    return n;
  }

  private blockFree(base: number, allowOwner?: string): boolean {
    for (let p = base; p < base + this.blockSize; p++) {
      const o = this.owner.get(p);
      if (o !== undefined && o !== allowOwner) return false;
    }
    return true;
  }

  private takeBlock(base: number, jobKey: string): void {
    for (let p = base; p < base + this.blockSize; p++) this.owner.set(p, jobKey);
  }

  private freeBlock(base: number): void {
    for (let p = base; p < base + this.blockSize; p++) this.owner.delete(p);
  }

  /** Next-fit over aligned blocks, so a just-freed block is not handed out again at once. */
  private findFree(): number | undefined {
    const { min, max } = this.range;
    const count = Math.floor((max - min + 1) / this.blockSize);
    const startIdx = Math.floor((this.cursor - min) / this.blockSize) % count;
    for (let k = 0; k < count; k++) {
      const base = min + ((startIdx + k) % count) * this.blockSize;
      if (this.blockFree(base)) {
        this.cursor = base + this.blockSize > max ? min : base + this.blockSize;
        return base;
      }
    }
    return undefined;
  }
}
