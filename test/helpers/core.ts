/**
 * Instances for tests that look inside: `openCore` builds one as `createAlarmCenter` does and
 * remembers its parts, which `partsOf` finds again from the embedding API's value.
 */
import type { AlarmCenter, AlarmCenterOptions } from '../../src/center.js';
import { createCore, type CoreParts } from '../../src/root.js';

const known = new WeakMap<AlarmCenter, CoreParts>();

export async function openCore(options: AlarmCenterOptions = {}): Promise<AlarmCenter> {
  const { center, parts } = await createCore(options);
  known.set(center, parts);
  return center;
}

export function partsOf(center: AlarmCenter): CoreParts {
  const parts = known.get(center);
  if (!parts) throw new Error('partsOf: the instance was not opened with openCore');
  return parts;
}
