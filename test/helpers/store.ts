/** Shared by the store tests: stored alarms as plain data, and the refusal of a store that cannot open. */
import { expect } from 'chai';
import type { Alarm } from '../../src/alarm/model.js';
import { SqliteStore } from '../../src/alarm/sqlite-store.js';
import { StoreError } from '../../src/alarm/store.js';

/** An ACTIVATED alarm of default/p1 raised at 1000, as the store holds it; `overrides` change any field. */
export function storedAlarm(id: string, revision: number, overrides: Partial<Alarm> = {}): Alarm {
  const fields = { detail: `${id} is down` };
  return {
    domain: 'default',
    project: 'p1',
    id,
    source: '',
    status: 'ACTIVATED',
    severity: 'major',
    fields,
    fieldsJson: JSON.stringify(fields),
    count: 1,
    raisedAt: 1000,
    updatedAt: 1000,
    revision,
    ...overrides,
  };
}

/** The StoreError opening a store on `file` throws; fails the test when it opens instead. */
export function openRefusal(file: string): StoreError {
  let store: SqliteStore | undefined;
  try {
    store = new SqliteStore({ file });
  } catch (err) {
    expect(err).to.be.instanceOf(StoreError);
    return err as StoreError;
  }
  void store.close();
  return expect.fail(`opened ${file}`);
}
