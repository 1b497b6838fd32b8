/**
 * URLs of the gateway's own endpoints under server.public_url (an origin: config refuses a path,
 * since cookie paths and every endpoint assume /.portcullis/ at the host's root).
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
