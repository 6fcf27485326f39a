/**
 * Page cursors: the opaque `next` of a paged list or history, passed back as `cursor`. A cursor
 * is base64url text of a kind letter and the position to continue after, so a client can store
 * and resend it but a list cursor is no history cursor, and anything else is refused whole.
 */
import { ID_PATTERN, MAX_SOURCE_LENGTH } from './model.js';

/** The longest cursor text either kind can produce (an id, a source of 4-byte characters). */
export const MAX_CURSOR_LENGTH = 2048;

/**
 * A position in a paged list, which is ordered by (id, source), a system alarm before a stored
 * alarm with the same id and source.
 */
export interface ListKey {
  readonly id: string;
  readonly source: string;
  readonly system: boolean;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** The text a cursor encodes, or undefined when it is not canonical base64url of UTF-8 text. */
function decode(cursor: string): string | undefined {
  if (cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) return undefined;
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The cursor that continues a list after `key`. */
export function listCursor(key: ListKey): string {
  return encode(`L${key.system ? 's' : 'a'}${key.id}\u0000${key.source}`);
}

/** The position a list cursor continues after, or undefined when the text is no list cursor. */
export function readListCursor(cursor: string): ListKey | undefined {
  const text = decode(cursor);
  if (text === undefined || text[0] !== 'L' || (text[1] !== 's' && text[1] !== 'a')) return undefined;
  const end = text.indexOf('\u0000', 2);
  if (end < 0) return undefined;
  const id = text.slice(2, end);
  const source = text.slice(end + 1);
  if (!ID_PATTERN.test(id) || source.length > MAX_SOURCE_LENGTH) return undefined;
  return { id, source, system: text[1] === 's' };
}

/** The cursor that continues a history after `revision`. */
export function historyCursor(revision: number): string {
  return encode(`H${revision}`);
}

/** The revision a history cursor continues after, or undefined when the text is no history cursor. */
export function readHistoryCursor(cursor: string): number | undefined {
  const text = decode(cursor);
  if (text === undefined || !/^H(0|[1-9]\d{0,14})$/.test(text)) return undefined;
  return Number(text.slice(1));
}
