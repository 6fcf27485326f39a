/**
 * The console: asks for a token when tokens are on, then lists the project's alarms and follows
 * them live, with the filters in the URL, the health panels beside and one alarm's details open.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api, tokenStore, type WhoAmI } from './api.js';
import { AlarmTable } from './components/alarm-table.js';
import { Details } from './components/details.js';
import { Filters } from './components/filters.js';
import { HealthPanel, ListPanel } from './components/panels.js';
import { TokenForm } from './components/token-form.js';
import { Toolbar, type Notice } from './components/toolbar.js';
import { useAuth, useLive, useNow, useThrottled, type Live } from './hooks.js';
import { keyOf, type Alarm } from './model.js';
import type { StreamState } from './stream.js';
import { showCount } from './tab.js';
import { filtersSet, readView, rowsOf, writeView, type Sort, type ViewState } from './view.js';

/** What the caller may do: tokens off is everything. */
function roleOf(who: WhoAmI): 'read' | 'write' | 'admin' {
  return who.authentication ? (who.role ?? 'read') : 'admin';
}

function Connection({ state, error }: { state: StreamState; error: string }) {
  const text = {
    connecting: 'Connecting…',
    live: 'Live',
    retrying: state.kind === 'retrying' ? `Reconnecting (${state.error})` : '',
    stopped: state.kind === 'stopped' ? `Stopped: ${state.error}` : '',
  }[state.kind];
  return (
    <p class={`connection ${state.kind}`} role="status">
      <span class="dot" aria-hidden="true" />
      {error && state.kind !== 'live' ? `${text} — ${error}` : text}
    </p>
  );
}

function TopBar({ who, live, onForget }: { who: WhoAmI; live: Live; onForget(): void }) {
  return (
    <header class="top">
      <h1>Alarm Center</h1>
      <Connection state={live.stream} error={live.error} />
      <div class="who">
        {who.authentication && (
          <>
            <span>{`Token ${who.name ?? ''} (${roleOf(who)})`}</span>
            <button type="button" class="quiet" onClick={onForget}>
              Forget token
            </button>
          </>
        )}
        {!who.authentication && <span class="muted">No tokens configured: every action is open</span>}
      </div>
    </header>
  );
}

/** Runs an action and keeps its outcome for the toolbar: `what: done`, or `what: <the API's error>`. */
function useActions(): [Notice | undefined, (what: string, action: () => Promise<unknown>) => Promise<boolean>] {
  const [notice, setNotice] = useState<Notice | undefined>(undefined);
  const act = async (what: string, action: () => Promise<unknown>): Promise<boolean> => {
    setNotice({ ok: true, text: `${what}…` });
    try {
      await action();
      setNotice({ ok: true, text: `${what}: done` });
      return true;
    } catch (err) {
      setNotice({ ok: false, text: `${what}: ${err instanceof Error ? err.message : String(err)}` });
      return false;
    }
  };
  return [notice, act];
}

/** The tab's title and favicon, and the mark a benchmark of the first render reads. */
function useTab(live: Live, project: string): void {
  const { book, loaded, version } = live;
  useEffect(() => {
    if (book && loaded) showCount(book.activeCount(), book.worstActive(), project);
  }, [book, loaded, version, project]);
  const marked = useRef(false);
  useEffect(() => {
    if (!loaded || marked.current) return;
    marked.current = true;
    // Once the first rendered list has reached the screen.
    requestAnimationFrame(() => setTimeout(() => performance.mark('console-first-render'), 0));
  }, [loaded, version]);
}

function emptyText(live: Live, view: ViewState): string {
  if (!live.loaded) return live.error ? `The alarms could not be listed: ${live.error}` : 'Loading the alarms…';
  return filtersSet(view) || view.status !== 'ACTIVATED' ? 'No alarms match these filters' : 'No active alarms';
}

/** The console of a known token: the live list, its filters, panels and details. */
function Console({ who, token, onUnauthorized, onForget }: { who: WhoAmI; token: string | undefined; onUnauthorized(error: string): void; onForget(): void }) {
  const [view, setView] = useState<ViewState>(() => readView(location.search));
  const api = useMemo(() => new Api(view.project, view.domain, () => tokenStore.get()), [view.project, view.domain, token]);
  const live = useLive(api, (e) => onUnauthorized(e.message));
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [notice, act] = useActions();
  const now = useNow();
  const refresh = useThrottled(live.version);
  useTab(live, view.project);
  useEffect(() => {
    const q = writeView(view);
    if (q !== location.search) history.replaceState(null, '', `${location.pathname}${q}`);
  }, [view]);
  useEffect(() => setSelected(new Set()), [api]);
  const { book } = live;
  const rows = useMemo(() => (book ? rowsOf(book.alarms.values(), view, expanded) : []), [book, live.version, view, expanded]);

  const canWrite = roleOf(who) !== 'read';
  const change = (c: Partial<ViewState>) => {
    const scopeChanged = (c.project !== undefined && c.project !== view.project) || (c.domain !== undefined && c.domain !== view.domain);
    setView({ ...view, ...c, ...(scopeChanged && { open: undefined }) });
    if (scopeChanged) setExpanded(new Set());
  };
  const sort = (s: Sort) => change(s === view.sort ? { descending: !view.descending } : { sort: s, descending: s !== 'source' && s !== 'id' });
  const toggle = <T,>(set: ReadonlySet<T>, keys: T[], on?: boolean) => {
    const next = new Set(set);
    for (const k of keys) {
      if (on ?? !next.has(k)) next.add(k);
      else next.delete(k);
    }
    return next;
  };
  return (
    <div class="app">
      <TopBar who={who} live={live} onForget={onForget} />
      <div class="body">
        <div class="side">
          <HealthPanel api={api} refresh={refresh} />
          <ListPanel api={api} refresh={refresh} title="Heartbeats" route="admin/heartbeats" />
          <ListPanel api={api} refresh={refresh} title="Checks" route="admin/checks" />
          <ListPanel api={api} refresh={refresh} title="Webhooks" route="admin/webhooks" />
        </div>
        <main class="main" aria-label="Alarms">
          <Filters view={view} onChange={change} />
          <Toolbar book={book} loaded={live.loaded} shown={rows.length} selected={selected} canWrite={canWrite} notice={notice} act={act} api={api} onCleared={() => setSelected(new Set())} />
          <AlarmTable
            rows={rows}
            view={view}
            now={now}
            selectable={canWrite}
            selected={selected}
            openKey={view.open && keyOf(view.open)}
            empty={emptyText(live, view)}
            onSelect={(keys, on) => setSelected(toggle(selected, keys, on))}
            onOpen={(a: Alarm) => change({ open: { id: a.id, source: a.source } })}
            onToggleGroup={(id) => setExpanded(toggle(expanded, [id]))}
            onSort={sort}
          />
        </main>
        {view.open && (
          <Details
            api={api}
            alarm={book?.alarms.get(keyOf(view.open))}
            wanted={view.open}
            canWrite={canWrite}
            defaultBy={who.name ?? ''}
            now={now}
            onClose={() => change({ open: undefined })}
            act={act}
          />
        )}
      </div>
    </div>
  );
}

/** The token gate: who the token is decides between the token form and the console. */
export function App() {
  const [token, setToken] = useState(() => tokenStore.get());
  const [retry, setRetry] = useState(0);
  const [auth, setAuth] = useAuth(token, retry);

  if (auth.kind === 'checking') return <p class="boot">Connecting to Alarm Center…</p>;
  if (auth.kind === 'failed') {
    return (
      <main class="token-page">
        <p class="error" role="alert">{`Alarm Center cannot be reached: ${auth.error}`}</p>
        <button type="button" onClick={() => setRetry((r) => r + 1)}>
          Try again
        </button>
      </main>
    );
  }
  if (auth.kind === 'need-token') {
    const use = (t: string) => {
      tokenStore.set(t);
      setToken(t);
      setRetry((r) => r + 1);
    };
    return <TokenForm error={auth.error} onToken={use} />;
  }
  const forget = () => {
    tokenStore.forget();
    setToken(undefined);
    setAuth({ kind: 'need-token', error: '' });
  };
  return <Console who={auth.who} token={token} onUnauthorized={(error) => setAuth({ kind: 'need-token', error })} onForget={forget} />;
}
