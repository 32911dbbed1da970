/** The HTTP API of `sendwell serve`. */
export { createHttpApi, parseListen, type Context, type ExtraRoute, type Handler, type HttpApi, type HttpApiOptions, type Reply } from './api.js';
export { clientIpResolver, type ClientIpResolver } from './client-ip.js';
export { buttonPage, escapeHtml, page, PAGE_HEADERS } from './page.js';
export { HttpError, PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, type FieldError, type Problem } from './errors.js';
export { openApiDocument } from './openapi.js';
export { renderMetrics, METRICS_CONTENT_TYPE } from './metrics.js';
