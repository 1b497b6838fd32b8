export { compileRoutes } from './compile.js';
export { isRedirectAllowed } from './redirect.js';
export { parseHostHeader, type HostPort } from './host.js';
export type { CompiledRoute, RouteTable } from './types.js';
