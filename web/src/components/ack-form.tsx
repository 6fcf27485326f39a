/** The acknowledgement form: who, an optional comment, and an optional time after which it ends by itself. */
import { useState } from 'preact/hooks';
import type { Api } from '../api.js';
import type { Alarm } from '../model.js';

const EXPIRIES: { label: string; seconds: number | undefined }[] = [
  { label: 'never', seconds: undefined },
  { label: '15 minutes', seconds: 900 },
  { label: '1 hour', seconds: 3600 },
  { label: '4 hours', seconds: 14_400 },
  { label: '1 day', seconds: 86_400 },
];

/** Where the last name given is kept, so the next acknowledgement is prefilled. */
export const BY_KEY = 'alarm-center.by';

export function AckForm(props: { api: Api; alarm: Alarm; defaultBy: string; act(what: string, action: () => Promise<unknown>): Promise<boolean> }) {
  const [by, setBy] = useState(() => sessionStorage.getItem(BY_KEY) ?? props.defaultBy);
  const [comment, setComment] = useState('');
  const [expiry, setExpiry] = useState(0);
  const submit = async (e: Event) => {
    e.preventDefault();
    const name = by.trim();
    sessionStorage.setItem(BY_KEY, name);
    const { alarm, api } = props;
    const ok = await props.act(`Acknowledge ${alarm.id} as ${name}`, () => api.ack(alarm, name, comment, EXPIRIES[expiry]?.seconds));
    if (ok) setComment('');
  };
  return (
    <form class="ack" onSubmit={submit}>
      <h3>{props.alarm.acknowledged ? 'Acknowledge again' : 'Acknowledge'}</h3>
      <label for="ack-by">Acknowledged by</label>
      <input id="ack-by" name="by" required maxLength={256} autoComplete="name" value={by} onInput={(e) => setBy(e.currentTarget.value)} />
      <label for="ack-comment">Comment</label>
      <input id="ack-comment" name="comment" maxLength={1024} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      <label for="ack-expiry">Ends by itself after</label>
      <select id="ack-expiry" name="expiry" value={String(expiry)} onChange={(e) => setExpiry(Number(e.currentTarget.value))}>
          {EXPIRIES.map((x, i) => (
            <option key={x.label} value={String(i)}>
              {x.label}
            </option>
          ))}
      </select>
      <button type="submit">Acknowledge</button>
    </form>
  );
}
