/**
 * One alarm's details: its state, its fields (labels and annotations apart when it came from
 * Prometheus), its history from the history route, and the actions the token may take on it.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Api, HistoryEntry } from '../api.js';
import type { Alarm } from '../model.js';
import { exact, relative } from '../time.js';
import { AckForm } from './ack-form.js';

export interface DetailsProps {
  api: Api;
  /** The alarm as the book holds it now; undefined when it left the list. */
  alarm: Alarm | undefined;
  wanted: { id: string; source: string };
  canWrite: boolean;
  defaultBy: string;
  now: number;
  onClose(): void;
  /** Runs an action and shows its outcome. */
  act(what: string, action: () => Promise<unknown>): Promise<boolean>;
}

function isStringMap(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

function Pairs({ title, pairs }: { title: string; pairs: Record<string, string> }) {
  const entries = Object.entries(pairs);
  if (entries.length === 0) return null;
  return (
    <section>
      <h3>{title}</h3>
      <dl class="pairs">
        {entries.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

/** The fields: labels and annotations as tables, the rest as JSON text. */
function Fields({ alarm }: { alarm: Alarm }) {
  const { detail, labels, annotations, ...rest } = alarm.fields;
  const others: Record<string, unknown> = { ...rest };
  if (labels !== undefined && !isStringMap(labels)) others.labels = labels;
  if (annotations !== undefined && !isStringMap(annotations)) others.annotations = annotations;
  if (detail !== undefined && typeof detail !== 'string') others.detail = detail;
  return (
    <>
      {typeof detail === 'string' && <p class="detail">{detail}</p>}
      {isStringMap(labels) && <Pairs title="Labels" pairs={labels} />}
      {isStringMap(annotations) && <Pairs title="Annotations" pairs={annotations} />}
      {Object.keys(others).length > 0 && (
        <section>
          <h3>Fields</h3>
          <pre class="fields">{JSON.stringify(others, null, 2)}</pre>
        </section>
      )}
    </>
  );
}

function Facts({ alarm, now }: { alarm: Alarm; now: number }) {
  const time = (label: string, iso: string | undefined) =>
    iso && (
      <div>
        <dt>{label}</dt>
        <dd title={exact(iso)}>{`${relative(iso, now)} (${exact(iso)})`}</dd>
      </div>
    );
  return (
    <dl class="pairs facts">
      <div>
        <dt>Status</dt>
        <dd>{alarm.status}</dd>
      </div>
      <div>
        <dt>Severity</dt>
        <dd>
          <span class={`sev sev-${alarm.severity}`}>{alarm.severity}</span>
        </dd>
      </div>
      <div>
        <dt>Source</dt>
        <dd>{alarm.source === '' ? '(none)' : alarm.source}</dd>
      </div>
      <div>
        <dt>Count</dt>
        <dd>{alarm.count}</dd>
      </div>
      {time('Raised', alarm.raisedAt)}
      {time('Updated', alarm.updatedAt)}
      {time('Cleared', alarm.clearedAt)}
      {time('Expires', alarm.expiresAt)}
      {alarm.acknowledged && (
        <div>
          <dt>Acknowledged</dt>
          <dd>{`by ${alarm.ackedBy ?? ''}${alarm.ackComment ? `: ${alarm.ackComment}` : ''}`}</dd>
        </div>
      )}
      {time('Acknowledged at', alarm.ackedAt)}
      {time('Acknowledgement ends', alarm.ackExpiresAt)}
    </dl>
  );
}

function History({ api, alarm }: { api: Api; alarm: Alarm }) {
  const [entries, setEntries] = useState<HistoryEntry[] | undefined>(undefined);
  const [error, setError] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    api.history(alarm, abort.signal).then(
      (r) => {
        setEntries(r.history.slice().reverse());
        setError('');
      },
      (err: unknown) => !abort.signal.aborted && setError(err instanceof Error ? err.message : String(err)),
    );
    return () => abort.abort();
  }, [api, alarm.id, alarm.source, alarm.revision]);
  return (
    <section>
      <h3>History</h3>
      {error && <p class="error">{error}</p>}
      {!entries && !error && <p class="muted">Loading the history…</p>}
      {entries && entries.length === 0 && <p class="muted">No history kept for this alarm.</p>}
      {entries && entries.length > 0 && (
        <ol class="timeline">
          {entries.map((e) => (
            <li key={e.revision}>
              <span class="action">{e.action}</span> <time dateTime={e.at}>{exact(e.at)}</time>
              {e.by && <span class="muted">{` by ${e.by}`}</span>}
              {e.action === 'ACK' && e.alarm.ackComment && <span class="muted">{` — ${e.alarm.ackComment}`}</span>}
              <span class="muted">{` · revision ${e.revision}`}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

export function Details(props: DetailsProps) {
  const { alarm, api } = props;
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), [props.wanted.id, props.wanted.source]);
  const clear = () => alarm && props.act(`Clear ${alarm.id}`, () => api.clear(alarm));
  const unack = () => alarm && props.act(`Unacknowledge ${alarm.id}`, () => api.unack(alarm));
  return (
    <aside class="details" aria-labelledby="details-title" onKeyDown={(e) => e.key === 'Escape' && props.onClose()}>
      <header>
        <h2 id="details-title" tabIndex={-1} ref={heading}>
          {props.wanted.id}
        </h2>
        <button type="button" class="quiet" onClick={props.onClose}>
          Close<span class="visually-hidden"> details</span>
        </button>
      </header>
      {!alarm && <p class="muted">{`This alarm (source "${props.wanted.source}") is not in the list of this project.`}</p>}
      {alarm && (
        <>
          <Facts alarm={alarm} now={props.now} />
          {props.canWrite && alarm.status === 'ACTIVATED' && (
            <section class="actions" aria-label="Actions">
              <AckForm alarm={alarm} defaultBy={props.defaultBy} act={props.act} api={api} />
              <div class="buttons">
                {alarm.acknowledged && (
                  <button type="button" onClick={unack}>
                    Unacknowledge
                  </button>
                )}
                <button type="button" class="danger" onClick={clear}>
                  Clear
                </button>
              </div>
            </section>
          )}
          <Fields alarm={alarm} />
          <History api={api} alarm={alarm} />
        </>
      )}
    </aside>
  );
}
