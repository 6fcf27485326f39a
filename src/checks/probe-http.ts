/**
 * The HTTP probe: a GET whose answer must come within the timeout, with a status in the expected
 * range and, when asked, a body holding a given text (read up to MAX_BODY_BYTES).
 */
import http from 'node:http';
import https from 'node:https';
import { publicUrl } from '../config-lists.js';
import { budgetMs, dialError, secondsText, type Probe } from './probe.js';

/** Most bytes of a body searched for the expected text. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpTarget {
  url: string;
  /** The lowest and highest status that count as an answer. */
  status: [number, number];
  bodyContains?: string;
  timeoutMs: number;
}

/** Why an answer is not the one expected, or undefined when it is. */
function judgeAnswer(t: HttpTarget, shown: string, status: number, body: string | undefined): string | undefined {
  if (status < t.status[0] || status > t.status[1]) return `HTTP ${status} from ${shown}`;
  if (t.bodyContains !== undefined && !(body ?? '').includes(t.bodyContains)) {
    return `HTTP ${status} from ${shown} without ${JSON.stringify(t.bodyContains)} in its body`;
  }
  return undefined;
}

/** A probe sending GET to the target's URL on a connection of its own. */
export function httpProbe(t: HttpTarget): Probe {
  const url = new URL(t.url);
  const shown = publicUrl(t.url);
  const client = url.protocol === 'https:' ? https : http;
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return (withinMs) =>
    new Promise((resolve) => {
      let settled = false;
      const done = (reason: string | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(reason);
      };
      const req = client.get(url, { agent: false, headers: { 'user-agent': 'alarm-center-check', accept: '*/*' } }, (res) => {
        const status = res.statusCode ?? 0;
        if (t.bodyContains === undefined) {
          res.resume();
          done(judgeAnswer(t, shown, status, undefined));
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < MAX_BODY_BYTES) body += chunk;
          if (body.includes(t.bodyContains as string) || body.length >= MAX_BODY_BYTES) done(judgeAnswer(t, shown, status, body));
        });
        res.once('end', () => done(judgeAnswer(t, shown, status, body)));
        res.once('error', (err) => done(`GET ${shown}: ${err.message}`));
      });
      const timer = setTimeout(() => done(`GET ${shown}: timeout after ${secondsText(t.timeoutMs)}`), budgetMs(t.timeoutMs, withinMs));
      req.once('error', (err) => done(`GET ${shown}: ${dialError(err, host, port)}`));
    });
}
