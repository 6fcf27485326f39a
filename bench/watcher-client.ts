/** What the bench's watcher processes share: opening one WebSocket watcher. */
import WebSocket from 'ws';

/** How long opening one watcher may take. */
export const OPEN_TIMEOUT_MS = 30_000;

/**
 * Opens one watcher; rejects on an error, a refused upgrade or the handshake timeout. Frames
 * are not checked as UTF-8 (`skipUTF8Validation`) when the caller reads them as bytes.
 */
export function openWatcher(url: string, options: { skipUTF8Validation?: boolean } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: OPEN_TIMEOUT_MS, ...options });
    const fail = (err: Error): void => {
      ws.terminate();
      reject(err);
    };
    ws.once('open', () => {
      ws.removeAllListeners('error');
      ws.removeAllListeners('unexpected-response');
      resolve(ws);
    });
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => fail(new Error(`the upgrade was answered ${res.statusCode}`)));
  });
}
