/**
 * oidc-provider prints its development-mode notices (devInteractions on, development signing keys,
 * a Node.js it does not list as supported) with console.info/console.warn, when it is imported and
 * when a provider is built. In the demo they are expected, and printed first they bury the
 * "Open http://…" line; so the demo collects them here and logs them, readable, after its banner.
 * Everything else written to the console passes through untouched.
 */
const PREFIX = 'oidc-provider ';
const ANSI = /\x1b\[[0-9;]*m/g;

export function captureIdpNotices(onNotice: (text: string) => void): () => void {
  const original = { info: console.info, warn: console.warn };
  const filter =
    (fallback: (...args: unknown[]) => void) =>
    (...args: unknown[]): void => {
      const text = args.map(String).join(' ').replace(ANSI, '');
      if (text.startsWith(PREFIX)) onNotice(text.slice(PREFIX.length));
      else fallback.apply(console, args);
    };
  console.info = filter(original.info);
  console.warn = filter(original.warn);
  return () => {
    console.info = original.info;
    console.warn = original.warn;
  };
}
