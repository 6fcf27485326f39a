import { expect } from 'chai';

/** The error a promise rejects with; fails the test when it resolves instead. */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected the promise to reject'),
    (err: unknown) => err,
  );
}
