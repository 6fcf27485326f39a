/** The TCP probe: the target answers when a connection to it is made within the timeout. */
import net from 'node:net';
import { dialError, hostPort, secondsText, type Probe } from './probe.js';

/** A probe connecting to `host:port`, closing the connection once made. */
export function tcpProbe(target: { host: string; port: number; timeoutMs: number }): Probe {
  const { host, port, timeoutMs } = target;
  return () =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      const done = (reason: string | undefined) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(reason);
      };
      const timer = setTimeout(() => done(`dial tcp ${hostPort(host, port)}: timeout after ${secondsText(timeoutMs)}`), timeoutMs);
      socket.once('connect', () => done(undefined));
      socket.once('error', (err) => done(dialError(err, host, port)));
    });
}
