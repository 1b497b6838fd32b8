import t from 'tap';
import { classifyUpstreamError, errorCode } from '../../../src/proxy/upstream-errors.js';

function withCode(code: string): Error {
  return Object.assign(new Error(code), { code });
}

t.test('errors are classified by code into stable metric kinds', async (t) => {
  const table: Array<[unknown, string]> = [
    [withCode('ECONNREFUSED'), 'connect'],
    [withCode('ENOTFOUND'), 'connect'],
    [withCode('EAI_AGAIN'), 'connect'],
    [withCode('UND_ERR_CONNECT_TIMEOUT'), 'connect'],
    [withCode('UND_ERR_HEADERS_TIMEOUT'), 'timeout'],
    [withCode('ECONNRESET'), 'reset'],
    [withCode('UND_ERR_SOCKET'), 'reset'],
    [withCode('UND_ERR_INVALID_ARG'), 'request'],
    [withCode('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls'],
    [withCode('DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls'],
    [withCode('HPE_INVALID_CONSTANT'), 'protocol'],
    [new Error('no code at all'), 'protocol'],
    ['not even an error', 'protocol'],
  ];
  for (const [error, kind] of table) t.equal(classifyUpstreamError(error), kind, `${errorCode(error) ?? String(error)} → ${kind}`);
});

t.test('codes are found on causes and inside AggregateErrors (Happy Eyeballs)', async (t) => {
  const wrapped = new Error('fetch failed', { cause: withCode('ECONNREFUSED') });
  t.equal(errorCode(wrapped), 'ECONNREFUSED');
  const aggregate = Object.assign(new AggregateError([withCode('ECONNREFUSED'), withCode('ETIMEDOUT')]), {
    code: 'ERR_AGGREGATE_ERROR',
  });
  t.equal(classifyUpstreamError(aggregate), 'connect');
});
