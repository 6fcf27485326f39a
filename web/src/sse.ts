/**
 * A Server-Sent Events parser for a stream read with fetch (an EventSource cannot send the
 * Authorization and x-domain-name headers the API needs). It follows the format's rules that
 * the watch route uses: `id:` and `data:` fields, comment lines, an event ends at a blank line,
 * lines end with LF, CRLF or CR. Pure: no DOM.
 */

/** One event: its data (lines joined by LF) and its id, if it had one. */
export interface SseEvent {
  id: string | undefined;
  data: string;
}

export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private id: string | undefined;
  /** Whether the last chunk ended with CR, whose LF may open the next one. */
  private pendingCr = false;

  /** Feeds a decoded chunk; answers the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    this.buffer += text;
    const events: SseEvent[] = [];
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) {
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) return undefined;
      const event = { id: this.id, data: this.data.join('\n') };
      this.data = [];
      this.id = undefined;
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'id') this.id = value;
    return undefined;
  }
}
