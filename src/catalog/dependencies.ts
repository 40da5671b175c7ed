/**
 * The `dependsOn` graph of a catalog. The workflow erases a system once every system it depends on is
 * done, so a cycle would leave its members waiting forever: the loader refuses it and names it.
 */

/** What the graph needs of a system. */
export interface Dependent {
  id: string;
  dependsOn: readonly string[];
}

/**
 * Every cycle of `dependsOn` edges, each as the ids along it from the member listed first in the catalog
 * back to that member (`['a', 'b', 'a']`). Self-dependencies and unknown ids are left to their own checks.
 * @example findCycles([{ id: 'a', dependsOn: ['b'] }, { id: 'b', dependsOn: ['a'] }]) // [['a', 'b', 'a']]
 */
export function findCycles(systems: readonly Dependent[]): string[][] {
  const order = new Map(systems.map((s, i) => [s.id, i]));
  const edges = new Map(systems.map((s) => [s.id, s.dependsOn.filter((d) => d !== s.id && order.has(d))]));
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const found = new Map<string, string[]>();

  const visit = (id: string): void => {
    state.set(id, 'open');
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      if (state.get(next) === 'open') {
        const members = path.slice(path.indexOf(next));
        // Start at the member the catalog lists first, so a cycle reads the same whichever node DFS entered by.
        const first = members.reduce((a, b) => (order.get(a)! <= order.get(b)! ? a : b));
        const at = members.indexOf(first);
        const cycle = [...members.slice(at), ...members.slice(0, at), first];
        found.set(cycle.join('\u0000'), cycle);
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    path.pop();
    state.set(id, 'done');
  };
  for (const s of systems) if (!state.has(s.id)) visit(s.id);
  return [...found.values()].sort((a, b) => order.get(a[0])! - order.get(b[0])!);
}
