/**
 * A real chat webhook receiver for the notification tests: an HTTP server on a free port that checks each
 * call's signature the way a receiver would (HMAC-SHA256 of `<timestamp>.<body>` under its own secret,
 * compared in constant time, and a timestamp within five minutes) and answers with a status the test chooses.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/systems/webhook/connector';

export interface ChatCall {
  body: string;
  json: { text?: unknown; blocks?: unknown } | undefined;
  headers: http.IncomingHttpHeaders;
  /** Whether the signature verified under the receiver's secret. */
  verified: boolean;
}

export interface ChatReceiver {
  url: string;
  calls: ChatCall[];
  /** The status to answer (default 200; a call whose signature does not verify always gets 401). */
  status: number;
  close(): Promise<void>;
}

/** Whether `signature` is the HMAC of `<timestamp>.<body>` under `secret`, with a timestamp within 5 minutes. */
export function verifySignature(secret: string, timestamp: string | undefined, body: string, signature: string | undefined): boolean {
  if (!timestamp || !signature || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`);
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Starts a receiver that checks signatures with `secret`.
 * @example const chat = await startChatReceiver('a-secret-of-16-chars+'); … chat.calls[0].verified
 */
export async function startChatReceiver(secret: string): Promise<ChatReceiver> {
  const calls: ChatCall[] = [];
  const receiver = { url: '', calls, status: 200, close: async () => undefined } as ChatReceiver;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const verified = verifySignature(secret, req.headers[TIMESTAMP_HEADER.toLowerCase()] as string | undefined, body, req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined);
      let json: ChatCall['json'];
      try {
        json = JSON.parse(body) as ChatCall['json'];
      } catch {
        json = undefined;
      }
      calls.push({ body, json, headers: req.headers, verified });
      res.statusCode = verified ? receiver.status : 401;
      res.end(verified ? 'ok' : 'bad signature');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/B000/secret-path`;
  receiver.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return receiver;
}
