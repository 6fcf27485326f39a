/**
 * The API as the console calls it: every request carries the token (in the Authorization
 * header, never in a URL) and the domain (x-domain-name); errors become `ApiError`s worded from
 * the answer's `errorMessage` and `detail`.
 */
import type { Alarm } from './model.js';

/** A failed call: the HTTP status, the answer's errorCode, and a message a person reads. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What the console knows of the caller: whether tokens are on, and the token's name and role. */
export interface WhoAmI {
  authentication: boolean;
  name?: string;
  role?: 'read' | 'write' | 'admin';
}

/** The token kept for this browser tab only: session storage, never a URL or a cookie. */
export const tokenStore = {
  key: 'alarm-center.token',
  get(): string | undefined {
    return sessionStorage.getItem(this.key) ?? undefined;
  },
  set(token: string): void {
    sessionStorage.setItem(this.key, token);
  },
  forget(): void {
    sessionStorage.removeItem(this.key);
  },
};

/** The error of a non-2xx answer, from its body when it is the API's error form. */
export async function errorOf(res: Response): Promise<ApiError> {
  let code: string | undefined;
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { errorCode?: unknown; errorMessage?: unknown; detail?: unknown };
    if (typeof body.errorCode === 'string') code = body.errorCode;
    if (typeof body.errorMessage === 'string') message = body.errorMessage;
    if (typeof body.detail === 'string') message = `${message}: ${body.detail}`;
  } catch {
    // Not the API's error form: the status says it.
  }
  return new ApiError(res.status, code, message);
}

/** One project of one domain, as the API is called for it. */
export class Api {
  constructor(
    readonly project: string,
    readonly domain: string,
    private readonly token: () => string | undefined,
  ) {}

  /** The headers every call sends. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.token();
    return { 'x-domain-name': this.domain, ...(token && { authorization: `Bearer ${token}` }), ...extra };
  }

  /** The path of the project's `admin/…` or `registry/…` route. */
  path(rest: string): string {
    return `/v4/${encodeURIComponent(this.project)}/${rest}`;
  }

  /** Calls a route and answers its JSON body (undefined for an empty one); rejects with an ApiError. */
  async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal,
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(0, undefined, `Alarm Center cannot be reached (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!res.ok) throw await errorOf(res);
    const text = await res.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  whoami(): Promise<WhoAmI> {
    return this.call('GET', '/console/whoami');
  }

  list(signal?: AbortSignal): Promise<{ alarms: Alarm[]; revision: number }> {
    return this.call('GET', this.path('admin/alarms'), undefined, signal);
  }

  /** The `?source=` of a route naming one alarm. */
  private one(alarm: Pick<Alarm, 'id' | 'source'>, suffix = ''): string {
    return `${this.path(`admin/alarms/${encodeURIComponent(alarm.id)}${suffix}`)}?source=${encodeURIComponent(alarm.source)}`;
  }

  ack(alarm: Alarm, by: string, comment: string, ttlSeconds: number | undefined): Promise<{ alarm: Alarm }> {
    return this.call('POST', this.one(alarm, '/ack'), { by, ...(comment !== '' && { comment }), ...(ttlSeconds !== undefined && { ttlSeconds }) });
  }

  unack(alarm: Alarm): Promise<{ alarm: Alarm }> {
    return this.call('POST', this.one(alarm, '/unack'));
  }

  clear(alarm: Alarm): Promise<{ alarm: Alarm }> {
    return this.call('DELETE', this.one(alarm));
  }

  /** Clears the alarms in batches of at most 1,000, each one commit; answers how many it sent. */
  async clearMany(alarms: readonly Alarm[]): Promise<number> {
    for (let i = 0; i < alarms.length; i += 1000) {
      const batch = alarms.slice(i, i + 1000).map((a) => ({ id: a.id, source: a.source, status: 'CLEARED' }));
      await this.call('POST', this.path('admin/alarms'), { alarms: batch });
    }
    return alarms.length;
  }

  history(alarm: Pick<Alarm, 'id' | 'source'>, signal?: AbortSignal): Promise<{ history: HistoryEntry[] }> {
    const q = new URLSearchParams({ id: alarm.id, source: alarm.source, limit: '1000' });
    return this.call('GET', `${this.path('admin/alarms/history')}?${q.toString()}`, undefined, signal);
  }

  /** The cluster verdict: healthy, or the reason it is not. */
  async health(signal?: AbortSignal): Promise<{ healthy: boolean; detail: string }> {
    try {
      await this.call('GET', this.path('registry/health'), undefined, signal);
      return { healthy: true, detail: '' };
    } catch (err) {
      if (err instanceof ApiError && err.code === '400002') return { healthy: false, detail: err.message.replace(/^Server is Unhealthy: ?/, '') };
      throw err;
    }
  }
}

/** One entry of an alarm's history. */
export interface HistoryEntry {
  revision: number;
  action: string;
  alarm: Alarm;
  at: string;
  by?: string;
}
