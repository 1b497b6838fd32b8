import type { Runtime } from '../proxy/runtime.js';
import { toSubject } from '../proxy/pipeline.js';
import type { CompiledRoute } from '../routes/index.js';
import type { Session } from '../session/types.js';

/** An application (route) the user may open, for the user page and GET /.portcullis/sessions. */
export interface UserApp {
  /** the route's `from` as configured */
  name: string;
  /** where to open it; absent for wildcard routes (no one host to link to) */
  url?: string;
  /** open to everyone, signed in or not */
  public: boolean;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;

/**
 * The path a policy judges for the route's root, as the pipeline computes it for a request to
 * the route's prefix (see upstreamPath in proxy/pipeline.ts): route.to's path, then the prefix
 * unless the route strips it.
 */
function rootPath(route: CompiledRoute): string {
  const path = route.stripPrefix || !route.pathPrefix ? '/' : route.pathPrefix;
  return route.basePath ? `${route.basePath}${path}` : path;
}

function linkTo(route: CompiledRoute): string | undefined {
  if (route.wildcard) return undefined;
  const port = route.port === DEFAULT_PORT[route.scheme] ? '' : `:${route.port}`;
  return `${route.scheme}://${route.host}${port}${route.pathPrefix}/`;
}

/**
 * Routes whose policy lets this user in at the route's root (a GET there), plus public routes.
 * A policy that allows only deeper paths leaves its route out: the list is a convenience, the
 * pipeline still judges every request.
 */
export function appsFor(runtime: Runtime, session: Session): UserApp[] {
  const subject = toSubject(session);
  const apps: UserApp[] = [];
  for (const route of runtime.routes.routes) {
    let allowed = route.public;
    if (!allowed && route.policy !== undefined) {
      const policy = runtime.policies.get(route.policy);
      allowed = policy?.evaluate(subject, { method: 'GET', path: rootPath(route) }).allow ?? false;
    }
    if (!allowed) continue;
    const url = linkTo(route);
    apps.push({ name: route.id, ...(url ? { url } : {}), public: route.public });
  }
  return apps;
}
