// Loopback-only network guard, loaded by vitest before every test file.
// Any connection or DNS look-up to an address beyond loopback is blocked (the socket errors, the
// look-up fails) and the running test fails, so nothing leaves the machine even when a library tries
// (the applicationinsights SDK probes 169.254.169.254 and several Azure hosts unless told not to).
import dns from 'node:dns';
import net from 'node:net';
import { afterEach, expect } from 'vitest';
import { blockedAttempts, isLoopbackHost, installNetworkGuard } from '../helpers/network-guard.js';

installNetworkGuard();

afterEach(() => {
  const attempts = blockedAttempts.splice(0);
  expect(attempts, 'connections or DNS look-ups beyond loopback were attempted').toEqual([]);
});

// Re-exported so a test can prove the guard itself works.
export { dns, net, isLoopbackHost };
