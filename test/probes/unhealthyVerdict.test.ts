// A failing health answer says whether it is the app's own unhealthy verdict: what the rollback uses to tell a
// candidate the app called unhealthy (then rejected) from an app that never came back (then backed off).
import { describe, expect, it } from 'vitest';
import { judgeHealthAnswer, type HealthAnswer } from '../../src/probes/healthContract.js';

const text = (body: string, status: number): HealthAnswer => ({ status, headers: { 'content-type': 'text/plain' }, body });
const json = (body: unknown, status: number): HealthAnswer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('judgeHealthAnswer marks the app\'s own unhealthy verdict', () => {
  it.each<[string, HealthAnswer, { transient: boolean; unhealthy: boolean }]>([
    ['ASP.NET Core text Unhealthy with 503: a verdict, still retried as a 503', text('Unhealthy', 503), { transient: true, unhealthy: true }],
    ['Spring Boot DOWN with 503: a verdict', json({ status: 'DOWN' }, 503), { transient: true, unhealthy: true }],
    ['the kit\'s 503 {"status":"fail"}: a verdict', json({ status: 'fail', presentedThumbprint: 'AB'.repeat(20), reason: 'the partner answered 403' }, 503), { transient: true, unhealthy: true }],
    ['ASP.NET Core JSON writer Unhealthy with 503: a verdict', json({ status: 'Unhealthy', entries: {} }, 503), { transient: true, unhealthy: true }],
    ['Spring Boot DOWN with 200: a verdict, and definite', json({ status: 'DOWN' }, 200), { transient: false, unhealthy: true }],
    ['a front end\'s 503 Service Unavailable while the app restarts: no verdict', text('Service Unavailable', 503), { transient: true, unhealthy: false }],
    ['a 503 with a JSON reason only: no verdict', json({ ok: false, reason: 'the app is restarting' }, 503), { transient: true, unhealthy: false }],
    ['a 502 without a status field: no verdict, definite', json({ ok: false, reason: 'partner refused' }, 502), { transient: false, unhealthy: false }],
  ])('%s', (_sentence, answer, expected) => {
    const verdict = judgeHealthAnswer(answer);
    expect(verdict.ok).toBe(false);
    expect({ transient: verdict.transient, unhealthy: verdict.unhealthy === true }).toEqual(expected);
  });
});
