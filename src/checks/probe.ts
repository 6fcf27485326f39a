/**
 * The probe contract of active checks, and how a failure reads: as a person reads it, in the words
 * service-center's alarms used (`dial tcp 127.0.0.1:2379: connection refused`).
 */

/**
 * One attempt at a target: resolves with undefined when it answered as expected, with the reason
 * otherwise. It never rejects, and it settles within its timeout whatever the target does; given
 * `withinMs` (what is left of an attempt begun elsewhere), within that instead, a timeout still
 * naming the whole timeout.
 */
export type Probe = (withinMs?: number) => Promise<string | undefined>;

/** How long an attempt may wait: its timeout, or what is left of it (`withinMs`, see Probe). */
export function budgetMs(timeoutMs: number, withinMs: number | undefined): number {
  return Math.max(0, Math.min(timeoutMs, withinMs ?? timeoutMs));
}

/** Seconds as a person writes them: `2 s`, `0.5 s`. */
export function secondsText(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** The words of a socket error's code, as Go's net package prints them. */
const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  EPIPE: 'broken pipe',
  ECONNABORTED: 'connection aborted',
};

/** `host:port` as written in a message, an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A failed connection to `host:port` as a person reads it: `dial tcp 127.0.0.1:2379: connection refused`. */
export function dialError(err: unknown, host: string, port: number): string {
  const code = (err as { code?: unknown }).code;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `lookup ${host}: no such host`;
  const words = typeof code === 'string' ? SOCKET_ERRORS[code] : undefined;
  return `dial tcp ${hostPort(host, port)}: ${words ?? (err instanceof Error ? err.message : String(err))}`;
}
