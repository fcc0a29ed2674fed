// The probe target policy's pure half: every refused range, every odd spelling of an address, the allow-list.
import { describe, expect, it } from 'vitest';
import {
  checkProbeUrl,
  checkProbeUrls,
  checkResolvedAddress,
  parseAllowedTargets,
  refusedRangeOf,
  STRICT_PROBE_TARGET_POLICY,
  type AllowedTarget,
  type ProbeTargetPolicy,
} from '../../src/core/probeTargets.js';

function policy(allowList: string, maxTargets = 5): ProbeTargetPolicy {
  const allowed = parseAllowedTargets(allowList);
  if (typeof allowed === 'string') throw new Error(allowed);
  return { allowed, maxTargets };
}

describe('refusedRangeOf', () => {
  it.each([
    ['the metadata endpoint', '169.254.169.254', 'the cloud instance metadata endpoint'],
    ['the AWS IPv6 metadata endpoint', 'fd00:ec2::254', 'the cloud instance metadata endpoint'],
    ['the Azure wireserver', '168.63.129.16', 'the Azure platform endpoint (wireserver)'],
    ['another link-local IPv4 address', '169.254.1.2', 'a link-local address'],
    ['a link-local IPv6 address', 'fe80::1', 'a link-local address'],
    ['the top of fe80::/10', 'febf:ffff::1', 'a link-local address'],
    ['loopback', '127.0.0.1', 'a loopback address'],
    ['the far end of 127/8', '127.255.255.254', 'a loopback address'],
    ['IPv6 loopback', '::1', 'a loopback address'],
    ['the unspecified IPv4 address', '0.0.0.0', 'an unspecified ("this network") address'],
    ['the unspecified IPv6 address', '::', 'an unspecified address'],
    ['10/8', '10.0.0.1', 'a private address'],
    ['172.16/12 (bottom)', '172.16.0.1', 'a private address'],
    ['172.16/12 (top)', '172.31.255.255', 'a private address'],
    ['192.168/16', '192.168.1.1', 'a private address'],
    ['100.64/10 (CGNAT)', '100.64.0.1', 'a carrier-grade NAT address'],
    ['the top of 100.64/10', '100.127.255.255', 'a carrier-grade NAT address'],
    ['fc00::/7 (fc half)', 'fc00::1', 'a unique local (private) address'],
    ['fc00::/7 (fd half)', 'fd12:3456::1', 'a unique local (private) address'],
    ['multicast IPv4', '224.0.0.1', 'a multicast address'],
    ['multicast IPv6', 'ff02::1', 'a multicast address'],
    ['broadcast', '255.255.255.255', 'a reserved address'],
    ['IPv4-mapped loopback (dotted)', '::ffff:127.0.0.1', 'IPv4-mapped 127.0.0.1: a loopback address'],
    ['IPv4-mapped loopback (hex, as WHATWG prints it)', '::ffff:7f00:1', 'IPv4-mapped 127.0.0.1: a loopback address'],
    ['IPv4-mapped metadata', '::ffff:169.254.169.254', 'IPv4-mapped 169.254.169.254: the cloud instance metadata endpoint'],
    ['IPv4-mapped private, long form', '0:0:0:0:0:ffff:a00:1', 'IPv4-mapped 10.0.0.1: a private address'],
    ['NAT64 of loopback', '64:ff9b::7f00:1', 'NAT64 127.0.0.1: a loopback address'],
    ['6to4 of a private address', '2002:c0a8:101::1', '6to4 192.168.1.1: a private address'],
    ['IPv4-compatible (deprecated)', '::7f00:1', 'a deprecated IPv4-compatible IPv6 address'],
    ['text that is no address', 'partner.example', 'not an IP address'],
  ])('refuses %s (%s)', (_sentence, address, label) => {
    expect(refusedRangeOf(address)).toBe(label);
  });

  it.each([
    ['a public IPv4 address', '20.50.2.1'],
    ['just below 10/8', '9.255.255.255'],
    ['just above 172.16/12', '172.32.0.1'],
    ['just below 100.64/10', '100.63.255.255'],
    ['just above 100.64/10', '100.128.0.1'],
    ['a public IPv6 address', '2a01:111:f100::1'],
    ['an IPv4-mapped public address', '::ffff:20.50.2.1'],
  ])('allows %s (%s)', (_sentence, address) => {
    expect(refusedRangeOf(address)).toBeUndefined();
  });
});

describe('checkProbeUrl', () => {
  it.each([
    ['the metadata token URL', 'https://169.254.169.254/metadata/identity/oauth2/token', 'the cloud instance metadata endpoint'],
    ['the metadata endpoint with a trailing dot', 'https://169.254.169.254./metadata', 'the cloud instance metadata endpoint'],
    ['loopback as one hex number', 'https://0x7f000001:8443/', 'a loopback address'],
    ['loopback as one decimal number', 'https://2130706433/', 'a loopback address'],
    ['loopback in short form', 'https://127.1:8443/', 'a loopback address'],
    ['loopback in octal', 'https://0177.0.0.1/', 'a loopback address'],
    ['loopback in mixed hex quads', 'https://0x7f.0.0.0x1/', 'a loopback address'],
    ['IPv4-mapped loopback in brackets', 'https://[::ffff:127.0.0.1]:8443/', 'IPv4-mapped 127.0.0.1: a loopback address'],
    ['IPv4-mapped loopback fully written out', 'https://[0:0:0:0:0:ffff:127.0.0.1]/', 'IPv4-mapped 127.0.0.1: a loopback address'],
    ['IPv6 loopback', 'https://[::1]:8443/', 'a loopback address'],
    ['the unspecified address as "0"', 'https://0/', 'an unspecified ("this network") address'],
    ['a private address', 'https://10.0.0.1/', 'a private address'],
    ['the wireserver', 'https://168.63.129.16/machine?comp=goalstate', 'the Azure platform endpoint (wireserver)'],
    ['a link-local IPv6 literal', 'https://[fe80::1]/', 'a link-local address'],
    ['a unique local IPv6 literal', 'https://[fd00::1]/', 'a unique local (private) address'],
    ['the IPv6 metadata endpoint', 'https://[fd00:ec2::254]/', 'the cloud instance metadata endpoint'],
    ['a CGNAT address', 'https://100.100.100.200/', 'a carrier-grade NAT address'],
    ['userinfo that makes the host look public', 'https://partner.example.com@127.0.0.1/', 'must not contain credentials'],
  ])('refuses %s: %s', (_sentence, url, reason) => {
    const verdict = checkProbeUrl(url, STRICT_PROBE_TARGET_POLICY);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toContain(reason);
  });

  it.each([
    ['plain http', 'http://partner/', 'must use https'],
    ['file:', 'file:///etc/passwd', 'must use https'],
    ['ftp:', 'ftp://partner.example/', 'must use https'],
    ['gopher:', 'gopher://127.0.0.1:6379/_INFO', 'must use https'],
    ['a bare host', 'partner.example', 'is not a URL'],
    ['a password in the URL', 'https://:secret@partner.example/', 'must not contain credentials'],
  ])('refuses %s before looking at the host', (_sentence, url, reason) => {
    const verdict = checkProbeUrl(url, STRICT_PROBE_TARGET_POLICY);
    expect(verdict).toEqual({ ok: false, reason: expect.stringContaining(reason) });
  });

  it('passes a host name on to resolution, with its port', () => {
    expect(checkProbeUrl('https://Partner.Example:8443/ping', STRICT_PROBE_TARGET_POLICY)).toEqual({
      ok: true,
      target: { url: 'https://Partner.Example:8443/ping', hostname: 'partner.example', port: 8443, allowedByName: false },
    });
  });

  it('passes a public literal address with the address already checked', () => {
    expect(checkProbeUrl('https://20.50.2.1/', STRICT_PROBE_TARGET_POLICY)).toMatchObject({ ok: true, target: { address: '20.50.2.1', port: 443 } });
  });
});

describe('the allow-list (PROBE_ALLOWED_TARGETS)', () => {
  it.each([
    ['an address opens that address on any port', '127.0.0.1', 'https://127.0.0.1:8443/', true],
    ['an address opens it for every spelling', '127.0.0.1', 'https://0x7f000001:8443/', true],
    ['an address with a port opens only that port', '127.0.0.1:8443', 'https://127.0.0.1:9443/', false],
    ['an address with a port opens that port', '127.0.0.1:8443', 'https://127.0.0.1:8443/', true],
    ['a CIDR opens its range', '10.1.0.0/16', 'https://10.1.200.3/', true],
    ['a CIDR opens nothing outside it', '10.1.0.0/16', 'https://10.2.0.1/', false],
    ['an IPv6 CIDR opens its range', 'fd12::/16', 'https://[fd12::7]/', true],
    ['an IPv6 address with a port', '[::1]:8443', 'https://[::1]:8443/', true],
    ['IPv4 loopback allowed does not open its IPv4-mapped form', '127.0.0.1', 'https://[::ffff:127.0.0.1]/', false],
    ['loopback allowed does not open the metadata endpoint', '127.0.0.0/8', 'https://169.254.169.254/', false],
    ['the metadata endpoint opens only when named as an address', '169.254.169.254', 'https://169.254.169.254/', true],
  ])('%s (%s, %s)', (_sentence, allowList, url, ok) => {
    expect(checkProbeUrl(url, policy(allowList)).ok).toBe(ok);
  });

  it.each([
    ['a name opens its private addresses', 'partner.internal', 'partner.internal', 443, '10.0.0.7', true],
    ['a name with a port opens only that port', 'partner.internal:8443', 'partner.internal', 443, '10.0.0.7', false],
    ['a wildcard opens subdomains', '*.corp.example', 'api.corp.example', 443, '192.168.3.4', true],
    ['a wildcard does not open the domain itself', '*.corp.example', 'corp.example', 443, '192.168.3.4', false],
    ['a wildcard does not open look-alike domains', '*.corp.example', 'evilcorp.example', 443, '192.168.3.4', false],
    ['an allowed name never opens the metadata endpoint', 'partner.internal', 'partner.internal', 443, '169.254.169.254', false],
    ['an allowed name never opens the wireserver', 'partner.internal', 'partner.internal', 443, '168.63.129.16', false],
    ['another name does not profit from the allowed one', 'partner.internal', 'other.internal', 443, '10.0.0.7', false],
    ['a public address needs no allow-list', '', 'partner.example', 443, '20.50.2.1', true],
  ])('%s', (_sentence, allowList, hostname, port, address, ok) => {
    const p = policy(allowList);
    const verdict = checkProbeUrl(`https://${hostname}:${port}/`, p);
    expect(verdict.ok).toBe(true);
    if (!verdict.ok) return;
    expect(checkResolvedAddress(verdict.target, address, p) === undefined).toBe(ok);
  });

  it('names the host, the address and the setting in a refusal after resolution', () => {
    const target = { hostname: 'partner.example', port: 443, allowedByName: false };
    expect(checkResolvedAddress(target, '127.0.0.1', STRICT_PROBE_TARGET_POLICY)).toBe(
      'partner.example resolves to 127.0.0.1, which is a loopback address, not allowed by PROBE_ALLOWED_TARGETS',
    );
  });

  it.each([
    ['a CIDR with a port', '10.0.0.0/8:443', 'a CIDR takes no port'],
    ['a prefix too long', '10.0.0.0/33', 'is not a CIDR or an IP address'],
    ['a port out of range', '127.0.0.1:70000', 'port outside 1-65535'],
    ['a URL instead of a host', 'https://partner.example/', 'bad port'],
    ['a host with a path', 'partner.example/x', 'is not a CIDR or an IP address'],
    ['a wildcard in the middle', 'api.*.example', 'is not a CIDR, an IP address or a host name'],
  ])('refuses an entry that is %s', (_sentence, text, problem) => {
    expect(parseAllowedTargets(text)).toEqual(expect.stringContaining(problem));
  });

  it('reads several entries separated by commas and spaces', () => {
    const entries = parseAllowedTargets('127.0.0.1, [::1]:8443  *.corp.example:443,10.0.0.0/8') as AllowedTarget[];
    expect(entries.map((e) => [e.kind, e.text, e.port])).toEqual([
      ['network', '127.0.0.1', undefined],
      ['network', '[::1]:8443', 8443],
      ['host', '*.corp.example:443', 443],
      ['network', '10.0.0.0/8', undefined],
    ]);
  });
});

describe('checkProbeUrls', () => {
  it('refuses a list over the bound whole, with one problem, instead of cutting it', () => {
    const urls = Array.from({ length: 5000 }, (_, i) => `https://p${i}.example/`);
    expect(checkProbeUrls(urls, policy('', 5))).toEqual({ targets: [], problems: ['5000 probe targets, at most 5 are allowed (PROBE_MAX_TARGETS)'] });
  });

  it('allows exactly the bound', () => {
    const urls = Array.from({ length: 20 }, (_, i) => `https://p${i}.example/`);
    expect(checkProbeUrls(urls, policy('', 20)).targets).toHaveLength(20);
  });
});
