/** Above the table: how many alarms are active and shown, the bulk clear of a selection, and the last action's outcome. */
import { useState } from 'preact/hooks';
import type { Api } from '../api.js';
import type { Alarm, AlarmBook } from '../model.js';

/** The outcome of the last action, as shown. */
export interface Notice {
  ok: boolean;
  text: string;
}

export interface ToolbarProps {
  api: Api;
  book: AlarmBook | undefined;
  loaded: boolean;
  shown: number;
  selected: ReadonlySet<string>;
  canWrite: boolean;
  notice: Notice | undefined;
  act(what: string, action: () => Promise<unknown>): Promise<boolean>;
  onCleared(): void;
}

const count = (n: number, one: string, many: string) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

export function Toolbar(props: ToolbarProps) {
  const [confirming, setConfirming] = useState(false);
  const { book } = props;
  const active = book && props.loaded ? book.activeCount() : 0;
  const targets: Alarm[] = [];
  for (const key of props.selected) {
    const a = book?.alarms.get(key);
    if (a?.status === 'ACTIVATED') targets.push(a);
  }
  const clear = async () => {
    setConfirming(false);
    const ok = await props.act(`Clear ${count(targets.length, 'selected alarm', 'selected alarms')}`, () => props.api.clearMany(targets));
    if (ok) props.onCleared();
  };
  return (
    <div class="toolbar">
      <p class="counts">
        {props.loaded ? `${count(active, 'active alarm', 'active alarms')} · ${count(props.shown, 'row', 'rows')} shown` : ''}
      </p>
      {props.canWrite && targets.length > 0 && !confirming && (
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          {`Clear ${count(targets.length, 'selected alarm', 'selected alarms')}…`}
        </button>
      )}
      {confirming && (
        <span class="confirm">
          {`Clear ${count(targets.length, 'alarm', 'alarms')}? `}
          <button type="button" class="danger" onClick={clear}>
            Yes, clear
          </button>
          <button type="button" class="quiet" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </span>
      )}
      <p class={`notice ${props.notice?.ok === false ? 'error' : ''}`} role={props.notice?.ok === false ? 'alert' : 'status'}>
        {props.notice?.text ?? ''}
      </p>
    </div>
  );
}
