// The import graph of the repository's TypeScript, read with the TypeScript compiler's own pre-processor (static
// imports, re-exports, `import type`, dynamic `import()` and `require()`), so a comment or a string that looks like an
// import is never one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export interface ImportEdge {
  /** The importing file, relative to the root, with forward slashes. */
  from: string;
  /** As written. */
  specifier: string;
  /** A relative specifier resolved to a path relative to the root (forward slashes); undefined for a package. */
  path?: string;
  /** The package a bare specifier names (`@azure/data-tables`, `node-forge`, `node:fs`). */
  packageName?: string;
}

/** Every module specifier a source imports, re-exports or loads (`import()`, `require()`), as written. */
export function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

export function importsOf(from: string, source: string, root = '/'): ImportEdge[] {
  return specifiersOf(source).map((specifier) => {
    if (specifier.startsWith('.')) {
      const absolute = resolve(join(root, dirname(from)), specifier);
      return { from, specifier, path: relative(root, absolute).split(sep).join('/') };
    }
    const parts = specifier.split('/');
    const packageName = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
    return { from, specifier, packageName };
  });
}

export function typeScriptFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) out.push(...typeScriptFiles(root, path));
    else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path.split(sep).join('/'));
  }
  return out;
}

export function importsUnder(root: string, dir: string): ImportEdge[] {
  return typeScriptFiles(root, dir).flatMap((file) => importsOf(file, readFileSync(join(root, file), 'utf8'), root));
}
