/** The TCP probe: the target answers when a connection to it is made within the timeout. */
import net from 'node:net';
import { budgetMs, dialError, hostPort, secondsText, type Probe } from './probe.js';

/** Where a TCP probe connects, and how long it waits for the connection. */
export interface TcpTarget {
  host: string;
  port: number;
  timeoutMs: number;
}

/** A probe connecting to `host:port`, closing the connection once made. */
export function tcpProbe(target: TcpTarget): Probe {
  const { host, port, timeoutMs } = target;
  return (withinMs) =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      const done = (reason: string | undefined) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(reason);
      };
      const timer = setTimeout(() => done(`dial tcp ${hostPort(host, port)}: timeout after ${secondsText(timeoutMs)}`), budgetMs(timeoutMs, withinMs));
      socket.once('connect', () => done(undefined));
      socket.once('error', (err) => done(dialError(err, host, port)));
    });
}
