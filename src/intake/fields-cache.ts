/**
 * The fields' JSON text of the alerts read lately, by alarm: Prometheus re-sends every firing
 * alert about once a minute, unchanged but for its `endsAt`, and serializing the fields again is
 * the largest part of reading it. An alert whose labels (its alarm key), annotations,
 * generatorURL and startsAt are those of the entry gets the entry's text. Bounded: it holds at
 * most `max` entries, the least recently used going first (by halves).
 */
import type { AlertmanagerAlert } from './alert.js';
import type { LabelSet } from './labels.js';

/** Entries a parser keeps: some 400 bytes each, so about 20 MB, and room for 50,000 alerts firing. */
export const FIELDS_CACHE_ENTRIES = 50_000;

interface Entry {
  annotations: LabelSet;
  generatorURL: string | undefined;
  startsAt: string | undefined;
  fieldsJson: string;
}

/** Whether two label sets (or annotations) hold the same names and values. */
function sameSet(a: LabelSet, b: LabelSet): boolean {
  for (const name in a) if (a[name] !== b[name]) return false;
  for (const name in b) if (!Object.hasOwn(a, name)) return false;
  return true;
}

export class FieldsJsonCache {
  /**
   * Two generations: entries are made in the young one; once it holds half of `max`, it becomes
   * the old one and the old one goes. An entry found in the old generation moves to the young.
   * (Evicting from the front of one Map, one entry at a time, leaves deleted slots that every
   * later eviction walks over until the Map is rebuilt.)
   */
  private young = new Map<string, Entry>();
  private old = new Map<string, Entry>();

  constructor(private readonly max: number) {}

  /** The text of the fields of `alert`, whose alarm key is `key`, when the entry was made of the same alert. */
  get(key: string, alert: AlertmanagerAlert): string | undefined {
    let e = this.young.get(key);
    if (!e) {
      e = this.old.get(key);
      if (!e) return undefined;
      this.old.delete(key);
      this.keep(key, e);
    }
    if (e.generatorURL !== alert.generatorURL || e.startsAt !== alert.startsAt?.text || !sameSet(e.annotations, alert.annotations)) return undefined;
    return e.fieldsJson;
  }

  /** Keeps the text of the fields of `alert`, whose alarm key is `key`. */
  set(key: string, alert: AlertmanagerAlert, fieldsJson: string): void {
    this.old.delete(key);
    this.keep(key, { annotations: alert.annotations, generatorURL: alert.generatorURL, startsAt: alert.startsAt?.text, fieldsJson });
  }

  private keep(key: string, e: Entry): void {
    if (!this.young.has(key) && this.young.size >= Math.max(1, Math.floor(this.max / 2))) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, e);
  }

  /** Entries held: at most `max`. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
