// The boundaries the design rests on, checked on every import of src/ (test/architecture/imports.ts):
// - src/core is the engine: its own modules, src/crypto (certificates, PKCS#12) and node's built-ins. No Azure SDK,
//   no @azure/functions, no telemetry SDK, no node-forge (src/crypto is where forge lives), no adapter of src/;
// - nothing in src/ (what ships) imports the development tools: sandbox/, test/, bench/, local/ (the demo and the
//   sandbox settings).
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { importsOf, importsUnder, type ImportEdge } from './imports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEV_TREES = ['sandbox', 'test', 'bench', 'local'];

/** Why an import breaks a boundary, or undefined. */
export function violationOf(edge: ImportEdge): string | undefined {
  const top = edge.path?.split('/')[0];
  if (edge.from.startsWith('src/') && top !== undefined && DEV_TREES.includes(top)) {
    return `${edge.from} imports ${edge.specifier}: production code (src/) must not depend on ${top}/`;
  }
  if (!edge.from.startsWith('src/core/')) return undefined;
  if (edge.packageName !== undefined) {
    if (edge.packageName.startsWith('node:')) return undefined;
    return `${edge.from} imports the package ${edge.packageName}: src/core takes the outside world through its ports (src/core/ports.ts), never an SDK or library`;
  }
  const path = edge.path ?? '';
  if (path.startsWith('src/core/') || path.startsWith('src/crypto/')) return undefined;
  return `${edge.from} imports ${edge.specifier} (${path}): src/core may import only src/core, src/crypto and node's built-ins`;
}

describe('import boundaries', () => {
  it.each([
    ['the core importing an Azure SDK', 'src/core/scan.ts', "import { TableClient } from '@azure/data-tables';", /package @azure\/data-tables/],
    ['the core importing only a type of an Azure SDK', 'src/core/ports.ts', "import type { TokenCredential } from '@azure/core-auth';", /package @azure\/core-auth/],
    ['the core importing the Functions library', 'src/core/rotation/verifyRotation.ts', "import { app } from '@azure/functions';", /package @azure\/functions/],
    ['the core loading the telemetry SDK on demand', 'src/core/events.ts', "const ai = await import('applicationinsights');", /package applicationinsights/],
    ['the core requiring node-forge', 'src/core/candidate.ts', "const forge = require('node-forge');", /package node-forge/],
    ['the core importing an adapter', 'src/core/rotate.ts', "import { TableRotationStore } from '../azure/tableRotationStore.js';", /src\/azure\/tableRotationStore\.js/],
    ['the core importing the sandbox', 'src/core/rotation/probes/viaApp.ts', "export { x } from '../../../../sandbox/index.js';", /src\/core may import only|must not depend on sandbox/],
    ['an adapter importing the sandbox', 'src/azure/appServiceGateway.ts', "import { startSandbox } from '../../sandbox/index.js';", /must not depend on sandbox\//],
    ['the host importing a test helper', 'src/host/index.ts', "import { FakeClock } from '../../test/helpers/memory-ports.js';", /must not depend on test\//],
    ['the CLI importing the benchmark', 'src/cli/main.ts', "import '../../bench/run.js';", /must not depend on bench\//],
    ['a function importing the demo settings', 'src/functions/api.ts', "import { sandboxAppSettings } from '../../local/sandboxSettings.js';", /must not depend on local\//],
  ])('refuses %s', (_sentence, from, source, message) => {
    const violations = importsOf(from, source).map(violationOf).filter(Boolean);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(message);
  });

  it.each([
    ['the core importing node built-ins, its own modules and src/crypto', 'src/core/candidate.ts', "import net from 'node:net';\nimport type { Config } from './config.js';\nimport { readPfx } from '../crypto/index.js';"],
    ['an adapter importing its SDK and the core', 'src/azure/tableRotationStore.ts', "import type { TableClient } from '@azure/data-tables';\nimport { isOpenRecord } from '../core/records.js';"],
    ['a comment or string that only looks like an import', 'src/core/tags.ts', "// import { x } from '@azure/functions';\nconst text = \"from '../../sandbox/index.js'\";"],
    ['the demo importing the sandbox (it lives outside src/)', 'local/demo.ts', "import { startSandbox } from '../sandbox/index.js';"],
  ])('allows %s', (_sentence, from, source) => {
    expect(importsOf(from, source).map(violationOf).filter(Boolean)).toEqual([]);
  });

  it('holds for every import in src/', () => {
    const edges = importsUnder(ROOT, 'src');
    // The scan saw the tree (a wrong root would find nothing and prove nothing).
    expect(edges.filter((e) => e.from.startsWith('src/core/')).length).toBeGreaterThan(100);
    expect(edges.map(violationOf).filter(Boolean)).toEqual([]);
  });

  it('npm run compile (tsconfig.build.json) compiles src/ only, so dist/ holds no development tree', () => {
    const file = ts.readConfigFile(`${ROOT}/tsconfig.build.json`, ts.sys.readFile);
    const parsed = ts.parseJsonConfigFileContent(file.config, ts.sys, ROOT);
    const files = parsed.fileNames.map((f) => f.slice(ROOT.length).replace(/^\//, ''));
    expect(files).toContain('src/functions/index.ts');
    expect(files.filter((f) => !f.startsWith('src/'))).toEqual([]);
  });
});
