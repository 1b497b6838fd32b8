/**
 * URLs of the gateway's own endpoints under server.public_url (which may carry a path prefix
 * when a load balancer mounts the gateway below one).
 */
export function portcullisUrl(publicUrl: string, path: `/.portcullis/${string}`): string {
  return `${publicUrl.replace(/\/+$/, '')}${path}`;
}

/** The origin (scheme://host[:port]) of an absolute URL, or undefined when it is not one. */
export function originOf(value: string): string | undefined {
  try {
    return new URL(value).origin;
  } catch {
    return undefined;
  }
}
