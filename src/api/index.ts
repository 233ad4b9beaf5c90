// The HTTP API face: trellisd serves it; trellisctl and the status page read it.
export { createApiApp } from './app.js';
export { startApiServer, parseListen, DEFAULT_API_LISTEN } from './server.js';
export type { ApiServer, ApiServerOptions } from './server.js';
export { ApiConfigError, isLoopbackHost, requiredToken } from './auth.js';
export { ApiInputError } from './types.js';
export type {
  ApiSource, StatusDoc, ReadinessDoc, EndpointDoc, PeerStatusDoc, MatrixDoc, ExplainQuery, ApplyDoc, ErrorDoc, VxlanStatusDoc, VtepDoc,
} from './types.js';
