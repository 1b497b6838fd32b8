import t from 'tap';
import { AuthorizationResponseError, ClientError, ResponseBodyError, WWWAuthenticateChallengeError } from 'openid-client';
import { GatewayError } from '../../../src/errors.js';
import { authorizationError, classifyRefreshError, loginError, safeOAuthCode } from '../../../src/oidc/errors.js';

/** Error classification: refused vs transient refreshes, and what a browser sees when login fails. */

function bodyError(status: number, error: string, description = 'the IdP says so'): ResponseBodyError {
  const response = new Response(JSON.stringify({ error, error_description: description }), { status });
  return new ResponseBodyError('server responded with an error in the response body', {
    cause: { error, error_description: description },
    response,
  });
}

function challenge(status: number, error?: string): WWWAuthenticateChallengeError {
  const response = new Response('', { status, headers: { 'www-authenticate': `Basic realm="x"` } });
  return new WWWAuthenticateChallengeError('server responded with a challenge', {
    cause: [{ scheme: 'basic', parameters: { realm: 'x', ...(error ? { error } : {}) } }],
    response,
  });
}

function clientError(code: string, cause?: unknown): ClientError {
  const error = new ClientError('something', { cause } as ErrorOptions);
  error.code = code;
  return error;
}

function fetchFailed(code = 'ECONNREFUSED'): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code }) });
}

t.test('refresh: the IdP saying no for good is refused; anything else is transient', async (t) => {
  const cases: Array<[string, unknown, { kind: string; error?: string | RegExp }]> = [
    ['invalid_grant', bodyError(400, 'invalid_grant'), { kind: 'refused', error: 'invalid_grant' }],
    ['invalid_client', bodyError(401, 'invalid_client'), { kind: 'refused', error: 'invalid_client' }],
    ['unauthorized_client', bodyError(400, 'unauthorized_client'), { kind: 'refused', error: 'unauthorized_client' }],
    ['unsupported_grant_type', bodyError(400, 'unsupported_grant_type'), { kind: 'refused', error: 'unsupported_grant_type' }],
    ['401 challenge', challenge(401), { kind: 'refused', error: 'invalid_client' }],
    ['challenge naming invalid_grant', challenge(400, 'invalid_grant'), { kind: 'refused', error: 'invalid_grant' }],
    ['500 server_error', bodyError(500, 'server_error'), { kind: 'transient', error: /server_error \(HTTP 500\)/ }],
    ['503 temporarily_unavailable', bodyError(503, 'temporarily_unavailable'), { kind: 'transient' }],
    ['429 slow down', bodyError(429, 'slow_down'), { kind: 'transient' }],
    ['connection refused', fetchFailed(), { kind: 'transient', error: 'network error (ECONNREFUSED)' }],
    ['DNS failure', fetchFailed('ENOTFOUND'), { kind: 'transient', error: /ENOTFOUND/ }],
    ['timeout', clientError('OAUTH_TIMEOUT', new DOMException('timed out', 'TimeoutError')), { kind: 'transient', error: 'timeout' }],
    ['plain TimeoutError', new DOMException('timed out', 'TimeoutError'), { kind: 'transient', error: 'timeout' }],
    ['HTML 502 from a proxy', clientError('OAUTH_RESPONSE_IS_NOT_CONFORM'), { kind: 'transient' }],
    ['not discovered yet', new GatewayError('IDP_UNAVAILABLE'), { kind: 'transient', error: 'GW_IDP_UNAVAILABLE' }],
    ['something odd', new Error('odd'), { kind: 'transient' }],
    ['not even an error', 'string', { kind: 'transient' }],
  ];
  for (const [name, error, expected] of cases) t.match(classifyRefreshError(error), expected, name);
});

t.test('refresh outcomes never carry IdP-provided text', async (t) => {
  const outcome = classifyRefreshError(bodyError(400, 'invalid_grant', 'token abc.def.ghi is revoked'));
  t.notMatch(JSON.stringify(outcome), /abc\.def/);
  t.equal(safeOAuthCode('invalid_grant<script>'), 'invalid_grantscript');
  t.equal(safeOAuthCode(undefined), 'unknown_error');
  t.equal(safeOAuthCode('x'.repeat(500)).length, 64);
});

t.test('login failures: 400 for a bad response, 403 for a denial, 503 for an unreachable IdP', async (t) => {
  const cases: Array<[string, unknown, string, number]> = [
    ['refused code', bodyError(400, 'invalid_grant'), 'GW_BAD_CALLBACK', 400],
    ['state mismatch', clientError('OAUTH_JSON_ATTRIBUTE_COMPARISON'), 'GW_BAD_CALLBACK', 400],
    ['bad ID token', clientError('OAUTH_JWT_CLAIM_COMPARISON'), 'GW_BAD_CALLBACK', 400],
    ['IdP down', fetchFailed(), 'GW_IDP_UNAVAILABLE', 503],
    ['IdP 500', bodyError(500, 'server_error'), 'GW_IDP_UNAVAILABLE', 503],
    ['IdP timeout', clientError('OAUTH_TIMEOUT'), 'GW_IDP_UNAVAILABLE', 503],
    ['access denied', new AuthorizationResponseError('x', { cause: new URLSearchParams('error=access_denied') }), 'GW_FORBIDDEN', 403],
    ['our credentials refused', bodyError(401, 'invalid_client'), 'GW_INTERNAL', 500],
    ['already a GatewayError', new GatewayError('BAD_CALLBACK', 'kept'), 'GW_BAD_CALLBACK', 400],
  ];
  for (const [name, error, code, status] of cases) {
    const mapped = loginError(error);
    t.equal(mapped.code, code, name);
    t.equal(mapped.status, status, name);
    t.notMatch(mapped.message, /the IdP says so/, `${name}: no IdP text in the message`);
  }
});

t.test('error=… on the callback', async (t) => {
  t.equal(authorizationError('access_denied').status, 403);
  t.equal(authorizationError('login_required').code, 'GW_BAD_CALLBACK');
  t.equal(authorizationError('temporarily_unavailable').status, 503);
  const weird = authorizationError('<img src=x>'.repeat(50));
  t.equal(weird.status, 400);
  t.notMatch(weird.message, /[<>]/);
  t.equal(authorizationError(null).code, 'GW_BAD_CALLBACK');
});
