export { ServerInstance, type ServerInstanceOptions, type InstanceRecord, type InstancePortsBound } from './server-instance.js';
export { atollVersion } from './version.js';
