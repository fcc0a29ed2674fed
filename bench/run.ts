// `npm run bench`: the performance figures (README, docs/design.md "Cost of a rotation"), measured in one run against the sandbox (and Azurite for
// the fan-out), printed as `name: value (target …)` and written to bench/results.json. Not part of `npm test`:
// it takes a few minutes and its timings depend on the machine. Options: --only=floor,throttled,fanout,deployed,cold,memory,rollout,events
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureColdStart } from './coldStart.js';
import { DEPLOYED_DEFAULTS, measureDeployedFanout } from './deployed.js';
import { FANOUT_TIMING, measureFanout, SHORT_RESTART_TIMING, type FanoutTiming } from './fanout.js';
import { measureScanMemory } from './memory.js';
import { measureEventArmCalls, measureEventLatency } from './events.js';
import { measureScanFloor, measureThrottledScan, round } from './scan.js';
import { measureRolloutFigures } from './rollout.js';

/** Refill-rate multiplier of the throttling model: the 4 × 500 settings reads need 10 s of quota instead of 30. */
const TIME_SCALE = 3;

interface Figure {
  name: string;
  value: number;
  unit?: string;
  target: string;
  met: boolean | null;
}

const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const wanted = (part: string) => !only || only.includes(part);
const figures: Figure[] = [];
const details: Record<string, unknown> = {};

function report(f: Figure): void {
  figures.push(f);
  const target = f.met === null ? f.target : `${f.target}${f.met ? '' : ', NOT MET'}`;
  console.log(`${f.name}: ${f.value}${f.unit ? ` ${f.unit}` : ''} (target ${target})`);
}

const started = new Date();
console.log(`mtls-rotator benchmark, ${started.toISOString()}, node ${process.version}, ${availableParallelism()} × ${cpus()[0]?.model ?? 'cpu'}`);

if (wanted('floor')) {
  const r = await measureScanFloor();
  details.scanFloor = r.detail;
  report({ name: 'scan ARM requests / floor (2,000 opted-in + 2,000 not, 4 subscriptions, 40 due)', value: round(r.requestsOverFloor, 3), target: '1.00', met: r.requestsOverFloor <= 1 });
  report({ name: 'scan writes when nothing is due (PUT/DELETE/restart)', value: r.writesWhenNothingDue, target: '0', met: r.writesWhenNothingDue === 0 });
}

if (wanted('throttled')) {
  const r = await measureThrottledScan(TIME_SCALE);
  details.throttledScan = r.detail;
  report({ name: `throttled scan wall time / quota floor, paced (timeScale ${TIME_SCALE})`, value: round(r.pacedOverFloor), target: '≤ 1.15', met: r.pacedOverFloor <= 1.15 });
  report({ name: 'throttled scan 429s received, paced', value: r.paced429s, target: '0', met: r.paced429s === 0 });
  report({ name: 'throttled scan wall time / quota floor, pacing off', value: round(r.unpacedOverFloor), target: 'comparison', met: null });
  report({ name: 'throttled scan 429s received, pacing off', value: r.unpaced429s, target: 'comparison', met: null });
  const unpaced = r.detail.unpaced as { unreadable: number };
  report({ name: 'throttled scan apps whose settings read was lost, pacing off', value: unpaced.unreadable, target: 'comparison', met: null });
}

if (wanted('fanout')) {
  const r = await measureFanout(100, FANOUT_TIMING, { alsoDistinctCertificates: true });
  details.fanout = r.detail;
  const timing = (t: FanoutTiming) => `restart ${t.restartMs / 1000} s, warm-up ${t.probeWarmupSeconds} s`;
  report({ name: `rotate 100 due apps / rotate 1 app (wall time; ${timing(FANOUT_TIMING)})`, value: round(r.allOverOne), target: '≤ 1.5', met: r.allOverOne <= 1.5 });
  report({ name: 'rotations committed of the 100', value: r.committed, target: '100', met: r.committed === 100 });
  report({ name: `rotate 100 due apps, each with its own certificate / rotate 1 app (${timing(FANOUT_TIMING)})`, value: round(r.distinctOverOne!), target: '≤ 1.5', met: r.distinctOverOne! <= 1.5 });
  report({ name: 'rotations committed of the 100, each with its own certificate', value: r.distinctCommitted!, target: '100', met: r.distinctCommitted === 100 });
  const short = await measureFanout(100, SHORT_RESTART_TIMING);
  details.fanoutShortRestart = short.detail;
  report({ name: `rotate 100 due apps / rotate 1 app (wall time; ${timing(SHORT_RESTART_TIMING)})`, value: round(short.allOverOne), target: 'comparison', met: null });
  report({ name: `rotations committed of the 100 (${timing(SHORT_RESTART_TIMING)})`, value: short.committed, target: '100', met: short.committed === 100 });
}

if (wanted('deployed')) {
  const r = await measureDeployedFanout(DEPLOYED_DEFAULTS);
  details.deployedFanout = r.detail;
  const all = r.detail.all as { quotaFloorSeconds: number };
  const one = r.detail.one as { seconds: number };
  const met = r.allOverOne <= r.target && r.throttled === 0 && r.lost === 0 && r.peakInFlight <= r.bound;
  console.log(
    `deployed fan-out: ${DEPLOYED_DEFAULTS.apps} apps / one app wall = ${round(r.allOverOne)}, peak in flight = ${r.peakInFlight} (bound ${r.bound}), ` +
      `429s = ${r.throttled}, lost = ${r.lost} (goal ≤ max(1.5, quota floor ${all.quotaFloorSeconds} s / one app ${one.seconds} s) = ${round(r.target)}${met ? '' : ', NOT MET'})`,
  );
  figures.push({
    name: `deployed fan-out: ${DEPLOYED_DEFAULTS.apps} due apps from the nightly timer through the queue, ${DEPLOYED_DEFAULTS.workers} instances, ARM's real rates / 1 app (wall time)`,
    value: round(r.allOverOne),
    target: `≤ ${round(r.target)} = max(1.5, quota floor / one app)`,
    met: r.allOverOne <= r.target,
  });
  // Every ARM write of a rotation comes before its restart (3 settings reads: the nightly scan's, the queue's re-scan
  // and the one before the write; the upload, the settings write, the restart: test/bench/rotationWrites.test.ts), so
  // the last app's restart and warm-up follow the quota floor: no fan-out can end before floor + one app.
  const eachWaveOneApp = (all.quotaFloorSeconds + one.seconds) / one.seconds;
  report({ name: 'deployed fan-out least possible wall / 1 app: (quota floor + one app) / one app', value: round(eachWaveOneApp), target: 'comparison', met: null });
  report({ name: `deployed fan-out peak rotations in flight (bound MAX_PARALLEL_ROTATIONS = ${r.bound})`, value: r.peakInFlight, target: `≤ ${r.bound}`, met: r.peakInFlight <= r.bound });
  report({ name: 'deployed fan-out 429s received', value: r.throttled, target: '0', met: r.throttled === 0 });
  report({ name: `deployed fan-out apps not rotated of the ${DEPLOYED_DEFAULTS.apps}`, value: r.lost, target: '0', met: r.lost === 0 });
}

if (wanted('cold')) {
  const r = await measureColdStart(9);
  details.coldStart = r.detail;
  report({ name: 'cold start: import bundled functions entry / node -e 0 (medians of 9)', value: round(r.importOverBareNode), target: '≤ 3', met: r.importOverBareNode <= 3 });
  report({ name: 'cold start: import the entry and every chunk (first invocation) / node -e 0', value: round(r.everythingOverBareNode), target: 'comparison', met: null });
}

if (wanted('memory')) {
  const r = await measureScanMemory(10_000);
  details.scanMemory = r.detail;
  report({ name: 'peak RSS scanning 10,000 apps', value: round(r.peakRssMb, 1), unit: 'MB', target: '≤ 150 MB', met: r.peakRssMb <= 150 });
}

if (wanted('rollout')) {
  const r = await measureRolloutFigures();
  details.rollout = r.detail;
  console.log(r.blastRadius);
  console.log(r.canary);
  console.log(r.canaryNoSoak);
  report({ name: 'canary rollout: apps restarted onto a version that breaks them, of 20 sharing its source', value: r.restarted, target: '1', met: r.restarted === 1 });
  report({ name: 'canary rollout: 20 apps of one source, good version, wall / one app (restart 15 s, warm-up 16 s, soak 1 s)', value: round(r.wallOverOne), target: '≤ 3', met: r.wallOverOne <= 3 });
  report({ name: 'canary rollout: the same with the soak scaled to 0', value: round(r.wallOverOneNoSoak), target: 'comparison', met: null });
  report({ name: 'canary rollout: wall / one app if every wave took one app’s rotation and nothing more, (nightly run + W × (one app − its nightly run)) / one app', value: round(r.eachWaveOneApp), target: 'comparison', met: null });
}

if (wanted('events')) {
  // Event-driven rotation: a new Key Vault version reaches its app through Event Grid without a scan (bench/events.ts).
  const latency = await measureEventLatency(100, 20);
  details.eventLatency = latency.detail;
  const met = latency.p99Seconds <= 60 && latency.fleetListings === 0 && latency.started === latency.events;
  console.log(`event to rotation started: P50 ${latency.p50Seconds} s, P99 ${latency.p99Seconds} s over ${latency.events} events (goal P99 ≤ 60 s with no full scan${met ? '' : ', NOT MET'})`);
  figures.push({ name: 'event to rotation started, P99 (new version created in the sandbox → rotation record created)', value: latency.p99Seconds, unit: 's', target: '≤ 60 s', met: latency.p99Seconds <= 60 });
  report({ name: 'event to rotation started, P50', value: latency.p50Seconds, unit: 's', target: 'comparison', met: null });
  report({ name: 'event-driven rotations started of the events published', value: latency.started, target: String(latency.events), met: latency.started === latency.events });
  report({ name: 'fleet listings (WebApps_List, Certificates_List) while events were handled', value: latency.fleetListings, target: '0', met: latency.fleetListings === 0 });
  const small = await measureEventArmCalls(100);
  const large = await measureEventArmCalls(2_000);
  details.eventArmCalls = { small: small.detail, large: large.detail };
  console.log(`ARM calls per event: ${small.perEvent} with 100 opted-in apps, ${large.perEvent} with 2,000 (one bound app per event; goal: the bound apps' reads, independent of fleet size)`);
  report({ name: 'ARM calls per event, 100 opted-in apps (one bound app per event)', value: small.perEvent, target: 'the bound app\'s reads', met: small.fleetListings === 0 && small.queued === 20 });
  report({ name: 'ARM calls per event, 2,000 opted-in apps (one bound app per event)', value: large.perEvent, target: '= the figure at 100 apps', met: large.perEvent === small.perEvent && large.fleetListings === 0 && large.queued === 20 });
}

const out = join(dirname(fileURLToPath(import.meta.url)), 'results.json');
const seconds = round((Date.now() - started.getTime()) / 1000, 1);
if (only && existsSync(out)) {
  // A partial run replaces its own figures and keeps the others of the last full run, saying which is which.
  const previous = JSON.parse(readFileSync(out, 'utf8')) as { figures: Figure[]; details: Record<string, unknown>; partialRuns?: unknown[] };
  const names = new Set(figures.map((f) => f.name));
  const partialRuns = [...(previous.partialRuns ?? []), { startedAt: started.toISOString(), seconds, node: process.version, only, figures: [...names] }];
  writeFileSync(
    out,
    JSON.stringify({ ...previous, figures: [...previous.figures.filter((f) => !names.has(f.name)), ...figures], details: { ...previous.details, ...details }, partialRuns }, null, 2) + '\n',
  );
} else {
  writeFileSync(out, JSON.stringify({ startedAt: started.toISOString(), seconds, node: process.version, cpus: availableParallelism(), figures, details }, null, 2) + '\n');
}
console.log(`written to bench/results.json (${round((Date.now() - started.getTime()) / 1000, 1)} s)`);
