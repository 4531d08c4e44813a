import 'reflect-metadata';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { ResourceType } from '../api/constants.js';

/** A namespace/name pair that identifies the object a reconcile is about. */
export interface ObjectKey {
  namespace?: string;
  name: string;
}

export interface WatchSpec {
  type: ResourceType;
  labelSelector?: string;
  /** Keys of primary objects to reconcile when an object of this type changes. */
  map?: (obj: KubernetesObject, operator: unknown) => ObjectKey[];
  /** `owns`: map through controller ownerReferences pointing at the primary kind. */
  owned?: boolean;
  /**
   * Whether an update matters to the primary objects (`old` → `obj`); an update it says no to is
   * not mapped at all. Adds and deletes always are.
   */
  changed?: (obj: KubernetesObject, old: KubernetesObject) => boolean;
}

export interface ControllerSpec {
  /** The kind this operator reconciles. */
  resource: ResourceType;
  /** Name used in logs and metrics (e.g. "sampleset"). */
  name: string;
  /** Label selector for the primary kind's informer. */
  labelSelector?: string;
}

const CONTROLLER = Symbol('paddle:controller');
const WATCHES = Symbol('paddle:watches');

/** Declares the primary kind an operator class reconciles. */
export function controller(spec: ControllerSpec): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata(CONTROLLER, spec, target);
  };
}

/** Declares a kind the operator creates; its events re-queue the owner named by its controller ownerReference. */
export function owns(type: ResourceType, opts: { labelSelector?: string } = {}): ClassDecorator {
  return addWatch({ type, owned: true, labelSelector: opts.labelSelector });
}

/** Declares another kind whose events re-queue primary objects chosen by `map` (updates only when `changed` says so). */
export function watches<Op = unknown>(
  type: ResourceType,
  map: (obj: KubernetesObject, operator: Op) => ObjectKey[],
  opts: { labelSelector?: string; changed?: WatchSpec['changed'] } = {},
): ClassDecorator {
  return addWatch({ type, map: map as WatchSpec['map'], labelSelector: opts.labelSelector, changed: opts.changed });
}

function addWatch(w: WatchSpec): ClassDecorator {
  return (target) => {
    const list: WatchSpec[] = [...((Reflect.getOwnMetadata(WATCHES, target) as WatchSpec[] | undefined) ?? [])];
    list.unshift(w); // decorators apply bottom-up; keep source order
    Reflect.defineMetadata(WATCHES, list, target);
  };
}

export function controllerSpecOf(ctor: object): ControllerSpec {
  const spec = Reflect.getMetadata(CONTROLLER, ctor) as ControllerSpec | undefined;
  if (!spec) throw new Error(`${(ctor as { name?: string }).name} has no @controller(...) decorator`);
  return spec;
}

export function watchSpecsOf(ctor: object): WatchSpec[] {
  return (Reflect.getMetadata(WATCHES, ctor) as WatchSpec[] | undefined) ?? [];
}
