/** parseurl (what Express reads a request URL with) ships no types; tests use this much. */
declare module 'parseurl' {
  import type { IncomingMessage } from 'node:http';
  function parseurl(req: IncomingMessage): { pathname: string | null; query: string | null } | undefined;
  export default parseurl;
}
