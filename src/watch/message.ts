import { wireAction } from '../alarm/answers.js';
import { serializeAlarm, type Alarm } from '../alarm/model.js';

/** The message telling a watcher it missed changes and must list again. */
export const RESYNC = 'RESYNC';

/**
 * One message to watchers: `{"action","alarm","revision"}` (RESYNC has no alarm). Serialized
 * once and shared by every watcher it reaches; the WebSocket bytes and the Server-Sent Events
 * frame are built on first use and kept.
 */
export class WatchMessage {
  readonly revision: number;
  readonly action: string;
  readonly text: string;
  /** When the change was committed (milliseconds since the epoch); latency is measured from it. */
  readonly at: number;
  private bytes: Buffer | undefined;
  private frame: string | undefined;

  private constructor(revision: number, action: string, text: string, at: number) {
    this.revision = revision;
    this.action = action;
    this.text = text;
    this.at = at;
  }

  static change(action: string, alarm: Alarm, at: number): WatchMessage {
    const wire = wireAction(action);
    const text = `{"action":"${wire}","alarm":${serializeAlarm(alarm)},"revision":${alarm.revision}}`;
    return new WatchMessage(alarm.revision, wire, text, at);
  }

  static resync(revision: number, at = Date.now()): WatchMessage {
    return new WatchMessage(revision, RESYNC, `{"action":"${RESYNC}","revision":${revision}}`, at);
  }

  /** The text as UTF-8, for a WebSocket text frame. */
  get buffer(): Buffer {
    this.bytes ??= Buffer.from(this.text);
    return this.bytes;
  }

  /** The Server-Sent Events frame; its `id:` is the revision, which `Last-Event-ID` resumes from. */
  get sse(): string {
    this.frame ??= `id: ${this.revision}\ndata: ${this.text}\n\n`;
    return this.frame;
  }
}
