/**
 * The alarm table. Only the rows in view (and a few around them) are in the document, between
 * two spacer rows that keep the scroll height, so 10,000 alarms scroll as smoothly as ten; rows
 * have one fixed height for that. Every alarm text is a text node: nothing an alarm holds is
 * ever parsed as markup.
 */
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { keyOf, type Alarm } from '../model.js';
import { exact, relative } from '../time.js';
import { summaryOf, type Row, type Sort, type ViewState } from '../view.js';

/** Height of one row, in CSS pixels (app.css holds the same). */
export const ROW_HEIGHT = 36;
const OVERSCAN = 12;

export interface AlarmTableProps {
  rows: readonly Row[];
  view: ViewState;
  now: number;
  /** Offer selection checkboxes (the token may clear). */
  selectable: boolean;
  selected: ReadonlySet<string>;
  openKey: string | undefined;
  empty: string;
  onSelect(keys: string[], on: boolean): void;
  onOpen(alarm: Alarm): void;
  onToggleGroup(id: string): void;
  onSort(sort: Sort): void;
}

function SeverityBadge({ alarm }: { alarm: Alarm }) {
  return <span class={`sev sev-${alarm.severity}`}>{alarm.severity}</span>;
}

function StateCell({ alarm }: { alarm: Alarm }) {
  if (alarm.status === 'CLEARED') return <span class="state cleared">cleared</span>;
  if (alarm.acknowledged) return <span class="state acked" title={alarm.ackComment ?? ''}>acknowledged by {alarm.ackedBy}</span>;
  return <span class="state active">active</span>;
}

const COLUMNS: { sort?: Sort; label: string; cls: string }[] = [
  { sort: 'severity', label: 'Severity', cls: 'c-sev' },
  { sort: 'id', label: 'Alarm', cls: 'c-id' },
  { sort: 'source', label: 'Source', cls: 'c-source' },
  { label: 'Detail', cls: 'c-detail' },
  { label: 'Count', cls: 'c-count' },
  { label: 'State', cls: 'c-state' },
  { sort: 'time', label: 'Updated', cls: 'c-time' },
];

function Head(props: AlarmTableProps & { allSelected: boolean }) {
  const { view } = props;
  return (
    <thead>
      <tr aria-rowindex={1}>
        {props.selectable && (
          <th class="c-pick" scope="col">
            <input
              type="checkbox"
              aria-label="Select every alarm shown"
              checked={props.allSelected}
              onChange={(e) => props.onSelect(alarmKeys(props.rows), e.currentTarget.checked)}
            />
          </th>
        )}
        {COLUMNS.map((c) => {
          const sorted = c.sort === view.sort;
          return (
            <th key={c.label} class={c.cls} scope="col" aria-sort={sorted ? (view.descending ? 'descending' : 'ascending') : undefined}>
              {c.sort ? (
                <button type="button" class="sort" onClick={() => props.onSort(c.sort as Sort)}>
                  {c.label}
                  <span aria-hidden="true">{sorted ? (view.descending ? ' ▼' : ' ▲') : ''}</span>
                </button>
              ) : (
                c.label
              )}
            </th>
          );
        })}
      </tr>
    </thead>
  );
}

function alarmKeys(rows: readonly Row[]): string[] {
  const keys: string[] = [];
  for (const r of rows) {
    if (r.kind === 'alarm') keys.push(r.key);
    else if (!r.expanded) for (const a of r.alarms) keys.push(keyOf(a));
  }
  return keys;
}

function AlarmRow({ row, index, props }: { row: Extract<Row, { kind: 'alarm' }>; index: number; props: AlarmTableProps }) {
  const a = row.alarm;
  const open = props.openKey === row.key;
  return (
    <tr class={`row sev-row-${a.severity}${open ? ' open' : ''}${row.nested ? ' nested' : ''}`} aria-rowindex={index + 2} aria-selected={open}>
      {props.selectable && (
        <td class="c-pick">
          <input
            type="checkbox"
            aria-label={`Select ${a.id} ${a.source}`}
            checked={props.selected.has(row.key)}
            onChange={(e) => props.onSelect([row.key], e.currentTarget.checked)}
          />
        </td>
      )}
      <td class="c-sev">
        <SeverityBadge alarm={a} />
      </td>
      <td class="c-id">
        <button type="button" class="link" onClick={() => props.onOpen(a)} title={`Details of ${a.id}`}>
          {a.id}
        </button>
      </td>
      <td class="c-source" title={a.source}>
        {a.source}
      </td>
      <td class="c-detail" title={summaryOf(a)}>
        {summaryOf(a)}
      </td>
      <td class="c-count">{a.count}</td>
      <td class="c-state">
        <StateCell alarm={a} />
      </td>
      <td class="c-time" title={exact(a.updatedAt)}>
        {relative(a.updatedAt, props.now)}
      </td>
    </tr>
  );
}

function GroupRow({ row, index, props }: { row: Extract<Row, { kind: 'group' }>; index: number; props: AlarmTableProps }) {
  const w = row.worst;
  const keys = row.alarms.map(keyOf);
  return (
    <tr class={`row group sev-row-${w.severity}`} aria-rowindex={index + 2}>
      {props.selectable && (
        <td class="c-pick">
          <input
            type="checkbox"
            aria-label={`Select every ${row.id} alarm`}
            checked={keys.every((k) => props.selected.has(k))}
            onChange={(e) => props.onSelect(keys, e.currentTarget.checked)}
          />
        </td>
      )}
      <td class="c-sev">
        <SeverityBadge alarm={w} />
      </td>
      <td class="c-id">
        <button type="button" class="link" aria-expanded={row.expanded} onClick={() => props.onToggleGroup(row.id)}>
          <span aria-hidden="true">{row.expanded ? '▾ ' : '▸ '}</span>
          {row.id}
        </button>
      </td>
      <td class="c-source">{row.alarms.length === 1 ? '1 source' : `${row.alarms.length} sources`}</td>
      <td class="c-detail" title={summaryOf(w)}>
        {summaryOf(w)}
      </td>
      <td class="c-count">{row.alarms.reduce((n, a) => n + a.count, 0)}</td>
      <td class="c-state">{`${row.alarms.filter((a) => a.acknowledged).length} acknowledged`}</td>
      <td class="c-time" title={exact(w.updatedAt)}>
        {relative(w.updatedAt, props.now)}
      </td>
    </tr>
  );
}

/** The rows in view of a scroll position: the first and the one past the last. */
function windowOf(count: number, scrollTop: number, height: number): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  return [first, last];
}

export function AlarmTable(props: AlarmTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(800);
  const frame = useRef(0);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    setHeight(el.clientHeight);
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const onScroll = () => {
    if (frame.current) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      setScrollTop(scroller.current?.scrollTop ?? 0);
    });
  };

  const { rows } = props;
  const [first, last] = windowOf(rows.length, scrollTop, height);
  const keys = props.selectable ? alarmKeys(rows) : [];
  const allSelected = keys.length > 0 && keys.every((k) => props.selected.has(k));
  return (
    <div class="scroller" ref={scroller} onScroll={onScroll} tabIndex={0} role="region" aria-label="Alarms">
      <table class="alarms" aria-rowcount={rows.length + 1}>
        <colgroup>
          {props.selectable && <col class="c-pick" />}
          {COLUMNS.map((c) => (
            <col key={c.label} class={c.cls} />
          ))}
        </colgroup>
        <Head {...props} allSelected={allSelected} />
        <tbody>
          {first > 0 && <tr class="spacer" aria-hidden="true" style={{ height: `${first * ROW_HEIGHT}px` }} />}
          {rows.slice(first, last).map((row, i) =>
            row.kind === 'alarm' ? (
              <AlarmRow key={row.key} row={row} index={first + i} props={props} />
            ) : (
              <GroupRow key={row.key} row={row} index={first + i} props={props} />
            ),
          )}
          {last < rows.length && <tr class="spacer" aria-hidden="true" style={{ height: `${(rows.length - last) * ROW_HEIGHT}px` }} />}
        </tbody>
      </table>
      {rows.length === 0 && <p class="empty">{props.empty}</p>}
    </div>
  );
}
