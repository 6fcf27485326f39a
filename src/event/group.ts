import type { Subscriber } from './subscriber.js';

/** The members of one group of a subject, by subscriber id. */
export class Group {
  readonly name: string;
  private readonly members = new Map<string, Subscriber>();

  constructor(name: string) {
    this.name = name;
  }

  get size(): number {
    return this.members.size;
  }

  member(id: string): Subscriber | undefined {
    return this.members.get(id);
  }

  /** Adds the subscriber unless one with its id is there; returns the member kept. */
  add(subscriber: Subscriber): Subscriber {
    const existing = this.members.get(subscriber.id);
    if (existing) return existing;
    this.members.set(subscriber.id, subscriber);
    return subscriber;
  }

  remove(id: string): boolean {
    return this.members.delete(id);
  }

  forEach(fn: (subscriber: Subscriber) => void): void {
    for (const m of this.members.values()) fn(m);
  }
}
