/** The SampleJob operator and its pure building blocks (schedule, run state, ids, progress). */
export { SampleJobOperator, SUCCEEDED_CONDITION, SCHEDULED_CONDITION, type SampleJobOperatorOptions } from './samplejob-operator.js';
export { JobTracker, type RuntimeJobsClient, type TrackTarget, type TrackedState } from './job-tracker.js';
export { decideSchedule, buildChild, childName, isScheduled, parseSchedule, SCHEDULED_AT_ANNOTATION, SCHEDULED_BY_LABEL, type ScheduleDecision } from './schedule.js';
export { decideNode, jobPhaseOf, type NodeStep } from './run-state.js';
export { specHash, jobId, jobIdOf } from './job-id.js';
export { aggregateProgress } from './progress.js';
export { systemClock, ManualClock, type Clock } from './clock.js';
