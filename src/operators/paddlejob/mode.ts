/** What kind of Paddle job a spec describes, and the role vocabulary of the Paddle env contract. */
import { ROLES, type PaddleJob, type PaddleJobMode, type PaddleJobSpec, type ResourceSpec, type RoleName } from '../../api/paddlejob.js';

/** `PS` when a parameter-server role is set, `Collective` with more than one worker, else `Single`. */
export function jobMode(spec: PaddleJobSpec): PaddleJobMode {
  if (spec.ps) return 'PS';
  if ((spec.worker?.replicas ?? 0) > 1) return 'Collective';
  return 'Single';
}

/** The value of TRAINING_ROLE / PADDLE_TRAINING_ROLE for a role. */
export function trainingRole(role: RoleName): 'PSERVER' | 'TRAINER' | 'HETER' {
  switch (role) {
    case 'ps':
      return 'PSERVER';
    case 'worker':
      return 'TRAINER';
    case 'heter':
      return 'HETER';
  }
}

/** The roles the spec sets, in the fixed order ps, worker, heter. */
export function rolesOf(spec: PaddleJobSpec): RoleName[] {
  return ROLES.filter((r) => spec[r] !== undefined);
}

export function roleSpec(spec: PaddleJobSpec, role: RoleName): ResourceSpec | undefined {
  return spec[role];
}

export function replicasOf(spec: PaddleJobSpec, role: RoleName): number {
  return Math.max(0, spec[role]?.replicas ?? 0);
}

export function totalReplicas(spec: PaddleJobSpec): number {
  return ROLES.reduce((n, r) => n + replicasOf(spec, r), 0);
}

export function isElastic(job: PaddleJob): boolean {
  return job.spec.elastic !== undefined && job.spec.elastic !== null;
}

export function isRole(s: string | undefined): s is RoleName {
  return s !== undefined && (ROLES as readonly string[]).includes(s);
}
