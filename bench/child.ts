// Bench children run as esbuild bundles under plain node (dependencies load from node_modules, as in an unbundled
// deployment), so what they measure is the code's and not a TypeScript loader's.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildBenchChild(name: string): Promise<string> {
  const outfile = join(root, 'dist', 'bench', `${name}.mjs`);
  await build({
    entryPoints: [join(root, 'bench', `${name}.ts`)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    packages: 'external',
    logLevel: 'error',
  });
  return outfile;
}

export interface RunningChild<T> {
  /** The first line the child printed, parsed. */
  ready: T;
  process: ChildProcess;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
  /** The next line the child prints, parsed. */
  next<R>(): Promise<R>;
  /** Closes the child's stdin and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts a long-running bench child that prints one JSON line when ready and stops when its stdin closes. */
export async function startBenchChild<T>(file: string, env: Record<string, string>): Promise<RunningChild<T>> {
  // BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"): to see where a child's time goes.
  const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, file], {
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout! });
  const queued: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', (line) => {
    const take = waiting.shift();
    if (take) take(line);
    else queued.push(line);
  });
  const next = <R>(): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const settle = (line: string) => {
        try {
          resolve(JSON.parse(line) as R);
        } catch (err) {
          reject(new Error(`bench child ${file} printed '${line.slice(0, 200)}' instead of its JSON`, { cause: err }));
        }
      };
      const line = queued.shift();
      if (line !== undefined) return settle(line);
      waiting.push(settle);
      child.once('error', reject);
      void exited.then((code) => reject(new Error(`bench child ${file} exited ${code}: ${stderr.slice(-800)}`)));
    });
  const ready = await next<T>();
  return {
    ready,
    process: child,
    send: (line) => child.stdin!.write(`${line}\n`),
    next,
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined elsewhere. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th, in clock ticks (100/s).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
