/**
 * A batch of intake operations as a flat array of strings and numbers, the form a parser thread
 * hands its work back in: a structured clone of flat primitives costs the event loop a fraction
 * of one of nested objects. Only what the planner reads crosses: a raise carries its fields as the
 * JSON text it was checked as (`fieldsJson`), never as an object.
 */
import type { IntakeBatch, IntakeOp } from './op.js';

/** Slots per operation: kind, id, source, severity, fieldsJson, expiresAt, resend. */
const WIDTH = 7;
const RAISE = 'r';
const CLEAR = 'c';
const NONE = -1;

/** A batch ready to cross to another thread. */
export interface WireBatch {
  ops: (string | number)[];
  errors: string[];
}

/** The wire form of a batch of raises and clears; throws on an operation of another kind (never made by the API v2 intake). */
export function toWire(batch: IntakeBatch): WireBatch {
  const out: (string | number)[] = new Array(batch.ops.length * WIDTH);
  let i = 0;
  for (const op of batch.ops) {
    if (op.kind === 'raise') {
      out[i] = RAISE;
      out[i + 3] = op.severity ?? '';
      out[i + 4] = op.fieldsJson ?? JSON.stringify(op.fields ?? {});
      out[i + 5] = op.expiresAt ?? NONE;
      out[i + 6] = op.resend ? 1 : 0;
    } else if (op.kind === 'clear' && op.fields === undefined && !op.mustExist) {
      out[i] = CLEAR;
      out[i + 3] = '';
      out[i + 4] = '';
      out[i + 5] = NONE;
      out[i + 6] = 0;
    } else {
      throw new Error(`intake wire: no form for a ${op.kind} operation`);
    }
    out[i + 1] = op.id;
    out[i + 2] = op.source;
    i += WIDTH;
  }
  return { ops: out, errors: batch.errors };
}

/** The batch a wire form holds. */
export function fromWire(wire: WireBatch): IntakeBatch {
  const a = wire.ops;
  const ops: IntakeOp[] = [];
  for (let i = 0; i + WIDTH <= a.length; i += WIDTH) {
    const id = a[i + 1] as string;
    const source = a[i + 2] as string;
    if (a[i] === CLEAR) {
      ops.push({ kind: 'clear', id, source, mustExist: false });
      continue;
    }
    const severity = a[i + 3] as string;
    const expiresAt = a[i + 5] as number;
    ops.push({
      kind: 'raise',
      id,
      source,
      ...(severity !== '' && { severity: severity as Extract<IntakeOp, { kind: 'raise' }>['severity'] }),
      fieldsJson: a[i + 4] as string,
      ...(expiresAt !== NONE && { expiresAt }),
      resend: a[i + 6] === 1,
    });
  }
  return { ops, errors: wire.errors };
}
