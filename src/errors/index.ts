export { AtollError, isAtollError, type AtollErrorOptions } from './atoll-error.js';
export { assert, AssertionFailure } from './assert.js';
export { statusInfo, isKnownStatus, isRoutingRefusal, allStatusInfos, errnoNumber, type StatusInfo } from './status-registry.js';
export { StatusCode } from '../proto/generated/common.js';
export { httpStatusOf, httpErrorOf } from './http-status.js';
