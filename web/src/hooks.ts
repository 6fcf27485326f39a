/** The console's state hooks: who the token is, the live list, and the clocks the page runs on. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Api, ApiError, type WhoAmI } from './api.js';
import { LiveAlarms } from './live.js';
import type { AlarmBook } from './model.js';
import type { StreamState } from './stream.js';

export type Auth = { kind: 'checking' } | { kind: 'need-token'; error: string } | { kind: 'failed'; error: string } | { kind: 'ok'; who: WhoAmI };

/** Asks who the token is, again whenever the token or `retry` changes. */
export function useAuth(token: string | undefined, retry: number): [Auth, (a: Auth) => void] {
  const [auth, setAuth] = useState<Auth>({ kind: 'checking' });
  useEffect(() => {
    setAuth({ kind: 'checking' });
    new Api('default', 'default', () => token).whoami().then(
      (who) => setAuth({ kind: 'ok', who }),
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 401) setAuth({ kind: 'need-token', error: token ? err.message : '' });
        else setAuth({ kind: 'failed', error: err instanceof Error ? err.message : String(err) });
      },
    );
  }, [token, retry]);
  return [auth, setAuth];
}

/** The live list of a project, as the page renders it. */
export interface Live {
  book: AlarmBook | undefined;
  loaded: boolean;
  /** Changes with every change of the book. */
  version: number;
  stream: StreamState;
  /** Why the list could not be read, while it cannot. */
  error: string;
}

/** Lists and follows the project of `api` while mounted; a refused token is handed to `onUnauthorized`. */
export function useLive(api: Api, onUnauthorized: (e: ApiError) => void): Live {
  const [version, setVersion] = useState(0);
  const [stream, setStream] = useState<StreamState>({ kind: 'connecting' });
  const [error, setError] = useState('');
  const live = useRef<LiveAlarms | undefined>(undefined);
  useEffect(() => {
    setError('');
    const l = new LiveAlarms(api, {
      onChange: () => {
        setError('');
        setVersion(l.book.version);
      },
      onStream: setStream,
      onError: (e) => setError(e.message),
      onRefused: (e) => (e.status === 401 ? onUnauthorized(e) : setError(e.message)),
    });
    live.current = l;
    void l.start();
    return () => l.stop();
  }, [api]);
  return { book: live.current?.book, loaded: live.current?.loaded ?? false, version, stream, error };
}

/** A number that changes at most once a second while `version` keeps changing: when to read the panels again. */
export function useThrottled(version: number): number {
  const [value, setValue] = useState(version);
  const pending = useRef(false);
  useEffect(() => {
    if (pending.current) return;
    pending.current = true;
    setTimeout(() => {
      pending.current = false;
      setValue((v) => v + 1);
    }, 1000);
  }, [version]);
  return value;
}

/** The clock relative times are shown against, moved every 15 s. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}
