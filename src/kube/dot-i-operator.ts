/**
 * `@dot-i/k8s-operator`'s `Operator`, as the parent of every operator, without paying at start-up
 * for the parts we never use (src/kube/README.md lists them).
 *
 * dot-i's module requires `@kubernetes/client-node`, `async` and `gaxios` when it loads, and its
 * constructor loads a default kubeconfig and builds a client-node `CoreV1Api`. Through the
 * package's index that is the whole generated client (every API class and model): about 40 MiB of
 * resident memory that the process would carry from its first second and never use, since
 * `KubeApi` talks to the API server and the kubeconfig is loaded once (kube-config.ts).
 *
 * So this module loads dot-i with those three dependencies behind lazy stand-ins (each loads the
 * real package the first time dot-i touches it), and `DotIOperator` is dot-i's class without its
 * constructor: instances are dot-i `Operator`s (same prototype chain, same methods), the
 * constructor sets the fields dot-i's methods read, and `kubeConfig`, `k8sApi` and `eventQueue`
 * are built as dot-i builds them on first access.
 */
import { createRequire, Module } from 'node:module';

type DotIOperatorClass = typeof import('@dot-i/k8s-operator').default;
type DotIModule = typeof import('@dot-i/k8s-operator');

const requireHere = createRequire(import.meta.url);
const dotIEntry = requireHere.resolve('@dot-i/k8s-operator');
const requireFromDotI = createRequire(dotIEntry);

/** The packages dot-i requires when it loads; none of them is needed until a dot-i method runs. */
const DEFERRED = ['@kubernetes/client-node', 'async', 'gaxios'];

/**
 * Puts a stand-in for `pkg` (as dot-i resolves it) in the CommonJS module cache: an object whose
 * every property comes from the real package, which is required the first time one is read.
 */
function deferForDotI(pkg: string): void {
  const file = requireFromDotI.resolve(pkg);
  if (requireHere.cache[file]) return;
  let real: Record<string | symbol, unknown> | undefined;
  const standIn = new Module(file);
  const load = (): Record<string | symbol, unknown> => {
    if (!real) {
      // the cache slot holds the stand-in: free it for the real package, then put it back
      delete requireHere.cache[file];
      try {
        real = requireFromDotI(pkg) as Record<string | symbol, unknown>;
      } finally {
        requireHere.cache[file] = standIn;
      }
    }
    return real;
  };
  standIn.filename = file;
  standIn.loaded = true;
  // `__esModule` makes TypeScript's __importStar hand the stand-in over as it is (no property copy)
  standIn.exports = new Proxy(
    {},
    {
      get: (_t, key) => (key === '__esModule' ? true : load()[key]),
      has: (_t, key) => key === '__esModule' || key in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_t, key) => {
        const d = Reflect.getOwnPropertyDescriptor(load(), key);
        return d && { ...d, configurable: true };
      },
    },
  );
  requireHere.cache[file] = standIn;
}

function loadDotI(): DotIModule {
  for (const pkg of DEFERRED) deferForDotI(pkg);
  return requireFromDotI(dotIEntry) as DotIModule;
}

const dotI = loadDotI();

/** What dot-i's constructor assigns, built on first access instead. */
interface LazyParentFields {
  kubeConfig: unknown;
  k8sApi: unknown;
  eventQueue: unknown;
}

function lazyField<K extends keyof LazyParentFields>(name: K, build: (self: LazyParentFields) => unknown): PropertyDescriptor {
  return {
    configurable: true,
    get(this: LazyParentFields) {
      const value = build(this);
      Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
      return value;
    },
    set(this: LazyParentFields, value: unknown) {
      Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true });
    },
  };
}

/** dot-i's Operator without its constructor; subclasses call `super(logger)` as with dot-i. */
function OperatorWithoutClient(this: Record<string, unknown>, logger: unknown): void {
  this.resourcePathBuilders = {};
  this.watchRequests = {};
  this.logger = logger;
}
OperatorWithoutClient.prototype = Object.create(dotI.default.prototype, {
  kubeConfig: lazyField('kubeConfig', () => {
    const k8s = requireFromDotI('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    kc.loadFromDefault();
    return kc;
  }),
  k8sApi: lazyField('k8sApi', (self) => {
    const k8s = requireFromDotI('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
    return (self.kubeConfig as InstanceType<typeof k8s.KubeConfig>).makeApiClient(k8s.CoreV1Api);
  }),
  eventQueue: lazyField('eventQueue', () => {
    const async = requireFromDotI('async') as {
      queue: (worker: (args: { onEvent(e: unknown): Promise<void>; event: unknown }) => Promise<void>) => unknown;
    };
    return async.queue(async (args) => await args.onEvent(args.event));
  }),
  constructor: { value: OperatorWithoutClient, writable: true, configurable: true },
}) as object;
Object.setPrototypeOf(OperatorWithoutClient, dotI.default);

export const DotIOperator = OperatorWithoutClient as unknown as DotIOperatorClass;
