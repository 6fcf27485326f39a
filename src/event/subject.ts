import { Group } from './group.js';
import type { Subscriber } from './subscriber.js';

/** The groups listening to one subject; resolves which subscribers an event reaches. */
export class Subject {
  readonly name: string;
  private readonly groups = new Map<string, Group>();

  constructor(name: string) {
    this.name = name;
  }

  get size(): number {
    return this.groups.size;
  }

  group(name: string): Group | undefined {
    return this.groups.get(name);
  }

  groupOrNew(name: string): Group {
    let g = this.groups.get(name);
    if (!g) {
      g = new Group(name);
      this.groups.set(name, g);
    }
    return g;
  }

  removeGroup(name: string): void {
    this.groups.delete(name);
  }

  /** The subscribers an event for `group` reaches: that group's, or every group's when empty. */
  targets(group: string, out: Subscriber[]): void {
    if (group === '') {
      for (const g of this.groups.values()) g.forEach((s) => out.push(s));
      return;
    }
    this.groups.get(group)?.forEach((s) => out.push(s));
  }
}
