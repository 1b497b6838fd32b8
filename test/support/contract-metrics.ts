/** Every metric name CONTRACT.md promises: its own portcullis_* names and the default process metrics it names. */
export const CONTRACT_METRIC_NAMES: readonly string[] = [
  'portcullis_http_requests_total',
  'portcullis_http_request_duration_seconds',
  'portcullis_upstream_errors_total',
  'portcullis_sessions_active',
  'portcullis_logins_total',
  'portcullis_logouts_total',
  'portcullis_token_refresh_total',
  'portcullis_session_sync_events_total',
  'portcullis_store_up',
  'portcullis_jwks_keys',
  'portcullis_config_last_reload_success',
  'portcullis_config_last_reload_timestamp_seconds',
  'portcullis_build_info',
  // a sample of the default process metrics
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
  'nodejs_heap_size_used_bytes',
];
