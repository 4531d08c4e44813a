/**
 * A SampleSet pass that cannot go on until something outside the spec changes (an object of ours
 * is taken by another owner): Ready=False with `reason`, a Warning Event, and a look again after
 * `requeueAfterMs`. A problem of the spec itself is a SpecError instead (no requeue: an edit brings
 * the SampleSet back).
 */
export class Blocked extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly requeueAfterMs?: number,
  ) {
    super(message);
  }
}
