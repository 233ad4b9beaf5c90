// Which compiled policies or profiles this node's endpoints use. Only what is used is
// rendered, and only what is used holds references on its sets; `onChange` tells the
// owner when the rendered list must be rebuilt (use flipped, or the item recompiled).
import type { SetDef } from './compile.js';

export interface Usage<T extends { sets: SetDef[] }> {
  /** Every compiled item by id, used or not. */
  readonly items: ReadonlyMap<string, T>;
  /** Item id -> local endpoint keys that use it. */
  readonly users: ReadonlyMap<string, ReadonlySet<string>>;
  /** Ids with at least one user (and that exist). */
  readonly used: ReadonlySet<string>;
  set(id: string, item: T | undefined): void;
  addUser(id: string, key: string): void;
  removeUser(id: string, key: string): void;
  /** Brings set references and `used` in line with users; changed: the item was recompiled. */
  sync(id: string, changed?: boolean): void;
}

export interface UsageHooks {
  hold(owner: string, defs: readonly SetDef[]): void;
  listChanged(): void;
}

export function createUsage<T extends { sets: SetDef[] }>(ownerPrefix: string, hooks: UsageHooks): Usage<T> {
  const items = new Map<string, T>();
  const users = new Map<string, Set<string>>();
  const used = new Set<string>();
  return {
    items, users, used,
    set(id, item) {
      if (item) items.set(id, item);
      else items.delete(id);
    },
    addUser(id, key) {
      let s = users.get(id);
      if (!s) users.set(id, (s = new Set()));
      s.add(key);
    },
    removeUser(id, key) {
      const s = users.get(id);
      if (!s) return;
      s.delete(key);
      if (s.size === 0) users.delete(id);
    },
    sync(id, changed = false) {
      const item = items.get(id);
      const inUse = item !== undefined && (users.get(id)?.size ?? 0) > 0;
      hooks.hold(`${ownerPrefix}${id}`, inUse ? item.sets : []);
      if (changed || inUse !== used.has(id)) hooks.listChanged();
      if (inUse) used.add(id);
      else used.delete(id);
    },
  };
}
