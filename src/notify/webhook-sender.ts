/**
 * One delivery attempt of a webhook: a POST of one body, and what became of it, classified for
 * the retry policy. Each webhook has an HTTP agent of its own, so a receiver that hangs holds
 * only its own webhook's connection. The whole attempt (connect, send, answer head) has one
 * deadline; the answer's body is read and dropped.
 */
import http from 'node:http';
import https from 'node:https';

/** What an attempt came to. */
export type AttemptResult =
  /** A 2xx. */
  | { kind: 'delivered'; status: number }
  /** Worth another try: a timeout, a connection error, a 5xx or a 429; `retryAfterMs` when the answer said when. */
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  /** Not worth another: any other answer (a 4xx, a redirect). */
  | { kind: 'refused'; error: string };

/** What one attempt sends. */
export interface Attempt {
  url: URL;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Aborts the attempt (the webhook stops: shutdown or the lease lost). */
  signal?: AbortSignal;
}

/**
 * Milliseconds a `Retry-After` value asks to wait (delay-seconds or an HTTP date, RFC 9110
 * §10.2.3), or undefined when it is absent or neither; never negative.
 */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date always ends in GMT (RFC 9110 §5.6.7); anything else is not one.
  const at = /GMT$/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The classification of an answer's status; `retry-after` read for the ones retried. */
function resultOf(res: http.IncomingMessage, now: number): AttemptResult {
  const status = res.statusCode ?? 0;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  const error = `HTTP ${status}`;
  if (status === 429 || status >= 500) {
    const wait = retryAfterMs(res.headers['retry-after'], now);
    return wait === undefined ? { kind: 'retry', error } : { kind: 'retry', error, retryAfterMs: wait };
  }
  return { kind: 'refused', error };
}

/** A webhook's HTTP client: its own agent, kept alive between attempts. */
export class WebhookSender {
  private readonly agent: http.Agent;

  constructor(private readonly url: URL) {
    const options = { keepAlive: true, maxSockets: 1 };
    this.agent = url.protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
  }

  /** Makes one attempt; never rejects. */
  send(attempt: Attempt): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        attempt.signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const request = this.url.protocol === 'https:' ? https.request : http.request;
      const req = request(this.url, { method: 'POST', agent: this.agent, headers: attempt.headers }, (res) => {
        const result = resultOf(res, Date.now());
        res.on('error', () => undefined);
        res.resume();
        settle(result);
      });
      const timer = setTimeout(() => {
        settle({ kind: 'retry', error: `no answer within ${attempt.timeoutMs / 1000} s` });
        req.destroy();
      }, attempt.timeoutMs);
      const onAbort = () => {
        settle({ kind: 'retry', error: 'stopped' });
        req.destroy();
      };
      if (attempt.signal?.aborted) onAbort();
      attempt.signal?.addEventListener('abort', onAbort);
      req.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'retry', error: connectionError(err) }));
      req.end(attempt.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A connection error's code and message, without the URL (it may carry credentials). */
function connectionError(err: NodeJS.ErrnoException): string {
  return err.code ? `connection failed: ${err.code}` : `connection failed: ${err.message}`;
}
