/**
 * The side panels: the cluster health verdict and why it is unhealthy, and the heartbeats,
 * checks and webhooks when this Alarm Center has those routes and the token may read them (a
 * panel whose route answers 404 or 403 is not shown). They are read again when the alarms
 * change, since heartbeats and checks raise and clear alarms: no polling.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from '../api.js';
import { exact } from '../time.js';

/** Calls `load` whenever `refresh` changes; answers its last result or error. */
function useLoaded<T>(api: Api, refresh: number, load: (api: Api, signal: AbortSignal) => Promise<T>): { value?: T; error?: ApiError } {
  const [state, setState] = useState<{ value?: T; error?: ApiError }>({});
  useEffect(() => {
    const abort = new AbortController();
    load(api, abort.signal).then(
      (value) => setState({ value }),
      (err: unknown) => !abort.signal.aborted && setState({ error: err instanceof ApiError ? err : new ApiError(0, undefined, String(err)) }),
    );
    return () => abort.abort();
  }, [api, refresh]);
  return state;
}

export function HealthPanel({ api, refresh }: { api: Api; refresh: number }) {
  const { value, error } = useLoaded(api, refresh, (a, s) => a.health(s));
  return (
    <section class="panel" aria-labelledby="health-title">
      <h2 id="health-title">Cluster health</h2>
      {error && <p class="error">{error.message}</p>}
      {value?.healthy === true && <p class="verdict healthy">Healthy</p>}
      {value?.healthy === false && (
        <>
          <p class="verdict unhealthy">Unhealthy</p>
          {value.detail && <p class="why">{value.detail}</p>}
        </>
      )}
    </section>
  );
}

type Item = Record<string, unknown>;

/** The list an answer holds: the answer itself, or its first array. */
function itemsOf(body: unknown): Item[] {
  const list = Array.isArray(body) ? body : typeof body === 'object' && body ? Object.values(body).find(Array.isArray) : undefined;
  return (list ?? []).filter((x): x is Item => typeof x === 'object' && x !== null);
}

/** An item's state in a word: its `state` or `status`, else from `up`, `healthy` or `lastError`. */
function stateOf(item: Item): string {
  for (const key of ['state', 'status']) if (typeof item[key] === 'string') return item[key];
  for (const key of ['up', 'healthy', 'ok']) if (typeof item[key] === 'boolean') return item[key] ? 'up' : 'down';
  if (typeof item.lastError === 'string' && typeof item.lastSuccessAt !== 'string') return 'failing';
  return '';
}

const TIME_KEY = /(At|Beat|Deadline|Time)$/;

/** A few of the item's other plain values, as `key: value`. */
function factsOf(item: Item): string[] {
  return Object.entries(item)
    .filter(([k, v]) => !['name', 'id', 'state', 'status'].includes(k) && ['string', 'number', 'boolean'].includes(typeof v))
    .slice(0, 5)
    .map(([k, v]) => `${k}: ${typeof v === 'string' && TIME_KEY.test(k) ? exact(v) : String(v)}`);
}

const GOOD = new Set(['up', 'ok', 'healthy', 'passing', 'alive', 'active-ok', 'UP', 'OK']);

/** A panel of the list a route answers; hidden while the route is missing or not allowed. */
export function ListPanel({ api, refresh, title, route }: { api: Api; refresh: number; title: string; route: string }) {
  const { value, error } = useLoaded(api, refresh, (a, s) => a.call<unknown>('GET', a.path(route), undefined, s));
  if (error && (error.status === 404 || error.status === 403)) return null;
  if (!value && !error) return null;
  const items = itemsOf(value);
  const id = `panel-${route.replace(/\W/g, '-')}`;
  return (
    <section class="panel" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {error && <p class="error">{error.message}</p>}
      {value !== undefined && items.length === 0 && <p class="muted">None configured.</p>}
      <ul class="items">
        {items.map((item, i) => {
          const state = stateOf(item);
          return (
            <li key={String(item.name ?? i)}>
              <span class="name">{String(item.name ?? item.id ?? `#${i + 1}`)}</span>
              {state && <span class={`pill ${GOOD.has(state) ? 'good' : 'bad'}`}>{state}</span>}
              <span class="facts">{factsOf(item).join(' · ')}</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
