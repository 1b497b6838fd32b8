import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/**
 * Reads an application/x-www-form-urlencoded body of at most `limit` bytes. A bigger body, a
 * wrong content type or a broken stream is a 400, never a crash or an unbounded buffer. On an
 * oversized body the stream is left paused (not destroyed) so the 400 can still be sent; Node
 * discards the rest once the response is finished.
 */
export function readFormBody(req: IncomingMessage, limit: number): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    return Promise.reject(new GatewayError('BAD_REQUEST', 'Expected an application/x-www-form-urlencoded body.'));
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new GatewayError('BAD_REQUEST', 'The request body is too large.', { headers: { Connection: 'close' } }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new GatewayError('BAD_REQUEST', 'The request body is too large.', { headers: { Connection: 'close' } }));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(new GatewayError('BAD_REQUEST', 'The request body could not be read.', { cause: error }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
