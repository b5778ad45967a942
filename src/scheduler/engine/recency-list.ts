// A doubly linked list in start order: the running jobs of one team, flavor and priority. Preemption
// walks it from the newest end ("most recently started first") and stops as soon as it has enough
// victims, so choosing victims costs the victims looked at, not the jobs running. The list keeps the
// sum of its members' resources, so "could victims here ever be enough?" is answered in O(1).
import type { ResourceVector } from './model.ts';
import { addInto } from './resources.ts';

export interface Link<T> {
  readonly value: T;
  prev: Link<T> | undefined;
  next: Link<T> | undefined;
}

export class RecencyList<T> {
  head: Link<T> | undefined;
  tail: Link<T> | undefined;
  size = 0;
  /** Sum of the members' resources (maintained by the caller through `push`/`remove` amounts). */
  readonly sum = { cpuMillis: 0, memoryBytes: 0, devices: 0 };

  /** Appends as the newest; returns the link to remove it later in O(1). */
  push(value: T, amount: ResourceVector): Link<T> {
    addInto(this.sum, amount, 1);
    const link: Link<T> = { value, prev: this.tail, next: undefined };
    if (this.tail === undefined) this.head = link;
    else this.tail.next = link;
    this.tail = link;
    this.size++;
    return link;
  }

  remove(link: Link<T>, amount: ResourceVector): void {
    addInto(this.sum, amount, -1);
    if (link.prev === undefined) this.head = link.next;
    else link.prev.next = link.next;
    if (link.next === undefined) this.tail = link.prev;
    else link.next.prev = link.prev;
    link.prev = undefined;
    link.next = undefined;
    this.size--;
  }
}
