/** The HTTP API of `sendwell serve`. */
export { createHttpApi, parseListen, type HttpApi, type HttpApiOptions } from './api.js';
export { HttpError, PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, type FieldError, type Problem } from './errors.js';
export { openApiDocument } from './openapi.js';
export { renderMetrics, METRICS_CONTENT_TYPE } from './metrics.js';
