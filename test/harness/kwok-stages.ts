// KWOK (v0.7.0) pod lifecycle for the test cluster, passed to kwok with `--config`.
//
// kwok uses its built-in ("fast") pod stages only when the configuration holds no pod Stage at
// all, so this file repeats those three verbatim (from sigs.k8s.io/kwok@v0.7.0
// kustomize/stage/pod/fast: pod-ready, pod-complete, pod-delete) and adds two of ours. Node stages
// are not listed, so kwok keeps its default node stages (initialize + heartbeat with lease).
//
// What a pod on a KWOK node goes through:
//   - scheduled → Running and Ready at once, with a pod IP from --cidr (127.20.0.0/16);
//   - deleted (deletionTimestamp set) → finalizers cleared and the pod removed;
//   - owned by a Job → Succeeded (kwok's own pod-complete);
//   - labelled `kwok.x-k8s.io/complete=succeeded` → Succeeded, every container terminated with exit
//     code 0 (reason Completed);
//   - labelled `kwok.x-k8s.io/complete=failed` → Failed, every container terminated with exit code
//     1 (reason Error), or the code in annotation `kwok.x-k8s.io/exit-code`.
// The label may be set in the pod template (the pod then completes right after becoming Running)
// or added later to a Running pod (e.g. `kubectl label pod P kwok.x-k8s.io/complete=succeeded`).
// Annotation `kwok.x-k8s.io/complete-after` (a Go duration such as "5s", or an RFC 3339 time)
// delays the completion.

/** Label that makes KWOK complete a Running pod; values in {@link KWOK_COMPLETE}. */
export const KWOK_COMPLETE_LABEL = 'kwok.x-k8s.io/complete';
export const KWOK_COMPLETE = { succeeded: 'succeeded', failed: 'failed' } as const;
/** Optional delay before completing (Go duration like "5s", or an RFC 3339 timestamp). */
export const KWOK_COMPLETE_AFTER_ANNOTATION = 'kwok.x-k8s.io/complete-after';
/** Optional exit code for `failed` (default 1). */
export const KWOK_EXIT_CODE_ANNOTATION = 'kwok.x-k8s.io/exit-code';

const completeStage = (name: string, value: string, phase: string, exitCode: string, reason: string): string => `\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ${name}
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.metadata.labels["${KWOK_COMPLETE_LABEL}"]'
      operator: 'In'
      values:
      - '${value}'
  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.annotations["${KWOK_COMPLETE_AFTER_ANNOTATION}"]'
  weight: 10000
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $annotations := or .metadata.annotations dict }}
      {{ $exitCode := ${exitCode} }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: PodCompleted
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: PodCompleted
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: {{ $exitCode }}
            finishedAt: {{ $now | Quote }}
            reason: ${reason}
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: ${phase}
`;

const defaultFastStages = `\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}

      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      {{ range .spec.readinessGates }}
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: {{ .conditionType | Quote }}
      {{ end }}

      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}

      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        restartCount: 0
        {{ if eq .restartPolicy "Always" }}
        started: true
        state:
          running:
            startedAt: {{ $now | Quote }}
        {{ else }}
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
        {{ end }}
      {{ end }}

      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-complete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Running'
    - key: '.metadata.ownerReferences.[].kind'
      operator: 'In'
      values:
      - 'Job'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $root := . }}
      containerStatuses:
      {{ range $index, $item := .spec.containers }}
      {{ $origin := index $root.status.containerStatuses $index }}
      - image: {{ $item.image | Quote }}
        name: {{ $item.name | Quote }}
        ready: false
        restartCount: 0
        started: false
        state:
          terminated:
            exitCode: 0
            finishedAt: {{ $now | Quote }}
            reason: Completed
            startedAt: {{ $now | Quote }}
      {{ end }}
      phase: Succeeded
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
  next:
    finalizers:
      empty: true
    delete: true
`;

/** The multi-document YAML written to `<runDir>/kwok.yaml`. */
export function kwokConfigYaml(): string {
  return [
    defaultFastStages,
    completeStage('paddle-test-pod-succeed', KWOK_COMPLETE.succeeded, 'Succeeded', '0', 'Completed'),
    completeStage(
      'paddle-test-pod-fail',
      KWOK_COMPLETE.failed,
      'Failed',
      `or ( index $annotations "${KWOK_EXIT_CODE_ANNOTATION}" ) 1`,
      'Error',
    ),
  ].join('---\n');
}
