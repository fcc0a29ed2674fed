// The import graph of src/, read from the files themselves: no module may reach itself through its imports (type-only
// imports count: a circle of types is still two files that cannot be understood one without the other), and the
// inventory never imports the decision.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { specifiersOf } from './imports.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The relative imports of a file, as paths of files of the graph (`.js` suffixes mapped back to `.ts`), read by the
 * TypeScript pre-processor as the boundaries test reads them (./imports.ts): static imports, re-exports, type-only and
 * dynamic imports, never a comment or a string that only looks like one.
 */
export function importsOf(file: string, text: string): string[] {
  return specifiersOf(text)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
}

export function importGraph(files: readonly string[], read: (file: string) => string): Map<string, string[]> {
  const known = new Set(files);
  return new Map(files.map((file) => [file, importsOf(file, read(file)).filter((target) => known.has(target))]));
}

/** Every elementary circle found by a depth-first search, each once, as the list of files around it. */
export function cyclesOf(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        // One circle can be entered at any of its files: keep it once, from its smallest name.
        const start = cycle.indexOf([...cycle].sort()[0] as string);
        const key = [...cycle.slice(start), ...cycle.slice(0, start)].join(' → ');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cycle.slice(start), ...cycle.slice(0, start)]);
        }
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

const name = (file: string) => relative(ROOT, file);

describe('the import graph of src/', () => {
  const files = sourceFiles(SRC);
  const graph = importGraph(files, (file) => readFileSync(file, 'utf8'));

  it('reads every module of src/ and finds their imports', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(graph.get(join(SRC, 'core/scan.ts'))).toContain(join(SRC, 'core/inventory/inventory.ts'));
  });

  it('has no import circle', () => {
    const circles = cyclesOf(graph).map((cycle) => [...cycle, cycle[0] as string].map(name).join(' → '));
    expect(circles).toEqual([]);
  });

  it.each([
    ['the inventory imports nothing from the decision', 'src/core/inventory/', 'src/core/decision/'],
    ['the decision never imports the scan use case that composes it', 'src/core/decision/', 'src/core/scan.ts'],
    ['the core imports nothing of the Functions, the host or the Azure adapters', 'src/core/', 'src/functions/'],
    ['the core imports nothing of the Azure adapters', 'src/core/', 'src/azure/'],
    ['the core imports nothing of the local host', 'src/core/', 'src/host/'],
  ])('%s', (_sentence, from, to) => {
    const offending = [...graph]
      .filter(([file]) => name(file).startsWith(from))
      .flatMap(([file, targets]) => targets.filter((target) => name(target).startsWith(to)).map((target) => `${name(file)} → ${name(target)}`));
    expect(offending).toEqual([]);
  });
});

describe('the circle finder', () => {
  const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

  it.each([
    ['a chain has no circle', { a: ['b'], b: ['c'], c: [] }, []],
    ['two modules importing each other are one circle', { a: ['b'], b: ['a'] }, [['a', 'b']]],
    ['a module importing itself is a circle', { a: ['a'] }, [['a']]],
    ['a circle of three is named once, from its smallest name', { c: ['a'], a: ['b'], b: ['c'] }, [['a', 'b', 'c']]],
    ['a diamond is no circle', { a: ['b', 'c'], b: ['d'], c: ['d'], d: [] }, []],
  ])('%s', (_sentence, edges, expected) => {
    expect(cyclesOf(graph(edges))).toEqual(expected);
  });

  it.each([
    ['an import with a .js suffix', "import { x } from './b.js';", ['/s/b.ts']],
    ['a type-only import', "import type { X } from '../c/d.js';", ['/c/d.ts']],
    ['a re-export', "export { x } from './e.js';", ['/s/e.ts']],
    ['a multi-line import', "import {\n  x,\n  y,\n} from './f.js';", ['/s/f.ts']],
    ['a dynamic import', "const m = await import('./g.js');", ['/s/g.ts']],
    ['a package import is not a module of src/', "import { x } from 'node:fs';", []],
    ['no import in a comment or a string', "// import { x } from './h.js';\nconst s = \"export { y } from './i.js'\";", []],
  ])('finds %s', (_sentence, text, expected) => {
    expect(importsOf('/s/a.ts', text)).toEqual(expected);
  });
});
