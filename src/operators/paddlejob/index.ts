export { PaddleJobOperator, type PaddleJobOperatorOptions } from './paddlejob-operator.js';
export { sampleSetBinding, type SampleSetBinding } from './cache-affinity.js';
export { DEFAULT_HOST_PORT_RANGE, type PortRange } from './host-ports.js';
