// Probe target policy. The direct probe presents the candidate certificate, the app's next identity, to
// every URL of the app's probe tag, and the app's owner writes that tag: without a policy the rotator's network
// position (metadata endpoints, the platform's wireserver, loopback services, private networks) is theirs to aim at.
// So a target must be https, carry no credentials, and its address must be a public unicast one, unless the operator
// allow-lists it (PROBE_ALLOWED_TARGETS: CIDRs, addresses or host names, each with an optional port); an app has at
// most PROBE_MAX_TARGETS of them.
//
// This file is the pure part: URL and address checks. Names are resolved by the prober (src/probes/targetPolicy.ts),
// once, and the address it checked with checkResolvedAddress is the one it connects to.
// Addresses are checked after WHATWG URL parsing, which already turns the odd IPv4 spellings (0x7f000001,
// 2130706433, 127.1, 0177.0.0.1) into dotted quads and IPv6 literals into their compressed form.
import net from 'node:net';

export interface ProbeTargetPolicy {
  /** Operator allow-list (PROBE_ALLOWED_TARGETS); empty = public unicast addresses only. */
  allowed: AllowedTarget[];
  /** PROBE_MAX_TARGETS. */
  maxTargets: number;
}

export type AllowedTarget =
  | { kind: 'network'; text: string; bytes: Uint8Array; prefix: number; port?: number }
  | { kind: 'host'; text: string; /** lowercase, without a leading "*." */ suffix: string; wildcard: boolean; port?: number };

export const DEFAULT_MAX_PROBE_TARGETS = 5;

/** The policy with no allow-list: what applies when nobody configured one. */
export const STRICT_PROBE_TARGET_POLICY: ProbeTargetPolicy = { allowed: [], maxTargets: DEFAULT_MAX_PROBE_TARGETS };

/** Ranges a probe is refused by default, first match wins (so the reason names the narrowest one). */
const REFUSED_RANGES: ReadonlyArray<readonly [cidr: string, label: string]> = [
  ['169.254.169.254/32', 'the cloud instance metadata endpoint'],
  ['168.63.129.16/32', 'the Azure platform endpoint (wireserver)'],
  ['fd00:ec2::254/128', 'the cloud instance metadata endpoint'],
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['10.0.0.0/8', 'a private address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.168.0.0/16', 'a private address'],
  ['100.64.0.0/10', 'a carrier-grade NAT address'],
  ['192.0.0.0/24', 'an IETF protocol address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved address'],
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['fe80::/10', 'a link-local address'],
  ['fc00::/7', 'a unique local (private) address'],
  ['ff00::/8', 'a multicast address'],
];

/**
 * IPv6 ranges that carry an IPv4 address: the IPv4 address inside is what the packet may end up reaching (the
 * kernel maps ::ffff:a.b.c.d to IPv4 itself; NAT64 and 6to4 gateways do the same on the network), so it is judged.
 * `offset` is the byte where the IPv4 address starts.
 */
const IPV4_CARRIERS: ReadonlyArray<readonly [cidr: string, offset: number, label: string]> = [
  ['::ffff:0:0/96', 12, 'IPv4-mapped'],
  ['64:ff9b::/96', 12, 'NAT64'],
  ['2002::/16', 2, '6to4'],
];
/** The deprecated IPv4-compatible form (::a.b.c.d) has no legitimate use as a probe target. */
const IPV4_COMPATIBLE: readonly [string, string] = ['::/96', 'a deprecated IPv4-compatible IPv6 address'];

interface Network {
  bytes: Uint8Array;
  prefix: number;
}

const parsedRanges = REFUSED_RANGES.map(([cidr, label]) => ({ ...parseCidr(cidr)!, label }));
const parsedCarriers = IPV4_CARRIERS.map(([cidr, offset, label]) => ({ ...parseCidr(cidr)!, offset, label }));
const parsedCompatible = { ...parseCidr(IPV4_COMPATIBLE[0])!, label: IPV4_COMPATIBLE[1] };

/** 4 or 16 bytes of an IP address text (IPv6 without brackets or zone), or undefined. */
export function addressBytes(address: string): Uint8Array | undefined {
  const family = net.isIP(address);
  if (family === 4) return new Uint8Array(address.split('.').map(Number));
  if (family !== 6) return undefined;
  let text = address.toLowerCase();
  const bytes = new Uint8Array(16);
  // A trailing dotted quad (::ffff:127.0.0.1) is two groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v4 = quad[1]!.split('.').map(Number);
    text = `${text.slice(0, -quad[1]!.length)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  groups.forEach((group, i) => {
    const value = Number.parseInt(group, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  });
  return bytes;
}

function parseCidr(text: string): Network | undefined {
  const [address, prefixText, ...rest] = text.split('/');
  if (rest.length > 0 || address === undefined) return undefined;
  const bytes = addressBytes(address);
  if (!bytes) return undefined;
  const bits = bytes.length * 8;
  if (prefixText === undefined) return { bytes, prefix: bits };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return undefined;
  return { bytes, prefix: Number(prefixText) };
}

function contains(network: Network, bytes: Uint8Array): boolean {
  if (network.bytes.length !== bytes.length) return false;
  for (let bit = 0; bit < network.prefix; bit += 8) {
    const i = bit / 8;
    const width = Math.min(8, network.prefix - bit);
    const mask = (0xff << (8 - width)) & 0xff;
    if ((network.bytes[i]! & mask) !== (bytes[i]! & mask)) return false;
  }
  return true;
}

function v4Text(bytes: Uint8Array): string {
  return [...bytes].join('.');
}

/**
 * Why an address is refused by default ("a loopback address", "IPv4-mapped ::ffff:7f00:1 → 127.0.0.1 is a loopback
 * address"), or undefined for a public unicast address. Text that is not an IP address is refused too.
 */
export function refusedRangeOf(address: string): string | undefined {
  const bytes = addressBytes(address);
  if (!bytes) return 'not an IP address';
  const direct = parsedRanges.find((range) => contains(range, bytes));
  if (direct) return direct.label;
  if (bytes.length === 16) {
    for (const carrier of parsedCarriers) {
      if (!contains(carrier, bytes)) continue;
      const inner = v4Text(bytes.slice(carrier.offset, carrier.offset + 4));
      const label = refusedRangeOf(inner);
      return label === undefined ? undefined : `${carrier.label} ${inner}: ${label}`;
    }
    if (contains(parsedCompatible, bytes)) return parsedCompatible.label;
  }
  return undefined;
}

/** Ports an entry names (`:8443`), or none (any port). */
function splitPort(text: string): { host: string; port?: number } | string {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return bracketed[2] === undefined ? { host: bracketed[1]! } : { host: bracketed[1]!, port: Number(bracketed[2]) };
  if (net.isIPv6(text.split('/')[0] ?? '')) return { host: text };
  const colon = text.lastIndexOf(':');
  if (colon < 0) return { host: text };
  const port = text.slice(colon + 1);
  if (!/^\d{1,5}$/.test(port)) return `'${text}' has a bad port`;
  return { host: text.slice(0, colon), port: Number(port) };
}

const HOST_PATTERN = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * PROBE_ALLOWED_TARGETS: entries separated by commas or spaces, each a CIDR (`10.1.0.0/16`, `fd12::/64`), an
 * address with an optional port (`127.0.0.1:8443`, `[::1]:8443`), or a host name with an optional port and an
 * optional leading `*.` for its subdomains (`partner.internal`, `*.corp.example:443`).
 */
export function parseAllowedTargets(text: string | undefined): AllowedTarget[] | string {
  const entries: AllowedTarget[] = [];
  for (const entry of (text ?? '').split(/[\s,]+/).filter(Boolean)) {
    const split = splitPort(entry);
    if (typeof split === 'string') return split;
    const { host, port } = split;
    if (port !== undefined && (port < 1 || port > 65535)) return `'${entry}' has a port outside 1-65535`;
    const withPort = <T extends AllowedTarget>(target: T): T => (port === undefined ? target : { ...target, port });
    if (host.includes('/') || net.isIP(host)) {
      if (host.includes('/') && port !== undefined) return `'${entry}': a CIDR takes no port`;
      const network = parseCidr(host);
      if (!network) return `'${entry}' is not a CIDR or an IP address`;
      entries.push(withPort({ kind: 'network', text: entry, bytes: network.bytes, prefix: network.prefix }));
      continue;
    }
    const name = host.toLowerCase().replace(/\.$/, '');
    const match = HOST_PATTERN.exec(name);
    if (!match || /^[\d.]+$/.test(name) || name.length > 253) {
      return `'${entry}' is not a CIDR, an IP address or a host name (optionally *.name, optionally :port)`;
    }
    const wildcard = match[1] !== undefined;
    entries.push(withPort({ kind: 'host', text: entry, suffix: wildcard ? name.slice(2) : name, wildcard }));
  }
  return entries;
}

/** A probe URL that passed the checks that need no name resolution. */
export interface ProbeTarget {
  url: string;
  /** Lowercase host name or IP address, without IPv6 brackets. */
  hostname: string;
  port: number;
  /** Set when the URL names an address directly (already checked). */
  address?: string;
  /** An allow-list host entry names this host: its addresses are not range-checked (except always-refused ones). */
  allowedByName: boolean;
}

export type ProbeTargetVerdict = { ok: true; target: ProbeTarget } | { ok: false; reason: string };

function hostAllowed(policy: ProbeTargetPolicy, hostname: string, port: number): AllowedTarget | undefined {
  return policy.allowed.find(
    (entry) =>
      entry.kind === 'host' &&
      (entry.port === undefined || entry.port === port) &&
      (entry.wildcard ? hostname.endsWith(`.${entry.suffix}`) : hostname === entry.suffix),
  );
}

function addressAllowed(policy: ProbeTargetPolicy, bytes: Uint8Array, port: number): AllowedTarget | undefined {
  return policy.allowed.find((entry) => entry.kind === 'network' && (entry.port === undefined || entry.port === port) && contains(entry, bytes));
}

/** Refused even for a name on the allow-list (a dangling or hijacked record of an allowed domain): only an address entry opens them. */
const ALWAYS_REFUSED = new Set(['the cloud instance metadata endpoint', 'the Azure platform endpoint (wireserver)']);

/**
 * Whether a resolved (or literal) address may be probed for this target: undefined when it may, else the reason.
 * An address entry of the allow-list opens any range; a host entry opens the name's addresses except the metadata
 * and platform endpoints.
 */
export function checkResolvedAddress(target: Pick<ProbeTarget, 'hostname' | 'port' | 'allowedByName'>, address: string, policy: ProbeTargetPolicy): string | undefined {
  const bytes = addressBytes(address);
  if (!bytes) return `${address} is not an IP address`;
  if (addressAllowed(policy, bytes, target.port)) return undefined;
  const range = refusedRangeOf(address);
  if (range === undefined) return undefined;
  const finalLabel = range.includes(': ') ? range.slice(range.lastIndexOf(': ') + 2) : range;
  if (target.allowedByName && !ALWAYS_REFUSED.has(finalLabel)) return undefined;
  const shown = target.hostname === address ? address : `${target.hostname} resolves to ${address}, which`;
  return `${shown} is ${range}, not allowed by PROBE_ALLOWED_TARGETS`;
}

/** The checks of one probe URL that need no name resolution: scheme, credentials, a literal address. */
export function checkProbeUrl(value: string, policy: ProbeTargetPolicy): ProbeTargetVerdict {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, reason: `'${value}' is not a URL` };
  }
  if (url.protocol !== 'https:') return { ok: false, reason: `'${value}' must use https` };
  if (url.username || url.password) return { ok: false, reason: `'${value}' must not contain credentials` };
  const hostname = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port === '' ? 443 : Number(url.port);
  const literal = net.isIP(hostname) !== 0;
  const allowedByName = !literal && hostAllowed(policy, hostname.replace(/\.$/, ''), port) !== undefined;
  const target: ProbeTarget = { url: value, hostname, port, allowedByName };
  if (literal) {
    const refusal = checkResolvedAddress(target, hostname, policy);
    if (refusal) return { ok: false, reason: `'${value}' is refused: ${refusal}` };
    target.address = hostname;
  }
  return { ok: true, target };
}

/** Every URL of an app checked, and their number bounded (a long list is refused whole, never truncated). */
export function checkProbeUrls(values: readonly string[], policy: ProbeTargetPolicy): { targets: ProbeTarget[]; problems: string[] } {
  const unique = [...new Set(values)];
  if (unique.length > policy.maxTargets) {
    return { targets: [], problems: [`${unique.length} probe targets, at most ${policy.maxTargets} are allowed (PROBE_MAX_TARGETS)`] };
  }
  const targets: ProbeTarget[] = [];
  const problems: string[] = [];
  for (const value of unique) {
    const verdict = checkProbeUrl(value, policy);
    if (verdict.ok) targets.push(verdict.target);
    else problems.push(verdict.reason);
  }
  return { targets, problems };
}
