/** One run of a load generator against one URL. */
export interface LoadSpec {
  url: string;
  seconds: number;
  connections: number;
  /** sent with every request (a session cookie) */
  headers?: Record<string, string>;
}

export interface LoadResult {
  /** completed requests per second over the run */
  rps: number;
  /** latency percentiles in milliseconds */
  p50: number;
  p99: number;
  requests: number;
  /** non-2xx answers plus socket errors and timeouts */
  errors: number;
  seconds: number;
}

export interface LoadTool {
  name: string;
  /** e.g. "wrk 4.1.0 -t1" */
  describe: string;
  run(spec: LoadSpec): Promise<LoadResult>;
  /** a long run that ends when `stop()` is called (load in the background of another measurement) */
  start(spec: LoadSpec): { stop(): Promise<LoadResult> };
}
