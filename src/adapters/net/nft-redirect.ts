/**
 * The nftables ruleset that sends metadata traffic to the proxy: a table of our own (so removal takes exactly
 * what we added), OUTPUT and PREROUTING redirects for IPv4 and IPv6, the proxy's own uid exempt so its upstream
 * connections reach the real service, and an input guard so other hosts cannot dial the proxy ports directly.
 */
import { spawnSync } from 'node:child_process';
import { isIPv4, isIPv6 } from 'node:net';
import { ImdsguardError } from '../../core/errors.ts';
import type { ListenSpec } from './proxy-server.ts';

export const NFT_TABLE = 'imdsguard_proxy';

export interface RedirectOptions {
  listeners: ListenSpec[];
  /** The proxy's uid: its traffic is not redirected. */
  proxyUid?: number;
  table?: string;
}

export function endpointOf(spec: ListenSpec): { family: 'ip' | 'ip6'; addr: string; port: number } {
  const url = new URL(spec.upstream);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : 80;
  if (isIPv4(host)) return { family: 'ip', addr: host, port };
  if (isIPv6(host)) return { family: 'ip6', addr: host, port };
  throw new ImdsguardError(
    'E_CONFIG',
    `Upstream "${spec.upstream}" must be an IP address to be redirected (nftables matches addresses)`,
  );
}

/**
 * What the redirect cannot do with these listeners, one sentence each. A PREROUTING redirect (traffic from other
 * network namespaces: containers, pods) delivers to the address of the interface the packet came in on, never to
 * loopback, so a listener bound to loopback serves this namespace's processes only.
 */
export function redirectWarnings(listeners: readonly ListenSpec[]): string[] {
  return listeners
    .filter((l) => /^127\./.test(l.host) || l.host === '::1')
    .map(
      (l) =>
        `listener ${l.host.includes(':') ? `[${l.host}]` : l.host}:${l.port} is on loopback: connections redirected from other network namespaces (containers) arrive at the address of their incoming interface and cannot reach it; only this namespace's processes are served (listen on ${l.host.includes(':') ? '[::]' : '0.0.0.0'}:${l.port} to serve them)`,
    );
}

/**
 * The ruleset text, loadable with `nft -f`: it replaces our table atomically if it exists.
 * @example redirectRuleset({ listeners: [{ host: '0.0.0.0', port: 8169, upstream: 'http://169.254.169.254' }], proxyUid: 998 })
 */
export function redirectRuleset(opts: RedirectOptions): string {
  const table = opts.table ?? NFT_TABLE;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new ImdsguardError('E_USAGE', `Invalid table name "${table}"`);
  if (opts.listeners.length === 0) throw new ImdsguardError('E_USAGE', 'No listener to redirect to');
  const redirects: string[] = [];
  const ports = new Set<number>();
  for (const l of opts.listeners) {
    const e = endpointOf(l);
    const listenV6 = l.host.includes(':');
    if ((e.family === 'ip6') !== listenV6 && l.host !== '::') {
      throw new ImdsguardError(
        'E_CONFIG',
        `Listener ${l.host}:${l.port} cannot receive redirected ${e.family === 'ip' ? 'IPv4' : 'IPv6'} traffic for ${l.upstream}`,
      );
    }
    redirects.push(`${e.family} daddr ${e.addr} tcp dport ${e.port} redirect to :${l.port}`);
    ports.add(l.port);
  }
  const exempt = opts.proxyUid !== undefined ? [`    meta skuid ${opts.proxyUid} return`] : [];
  const ind = (xs: string[]) => xs.map((x) => `    ${x}`);
  return [
    `# imdsguard proxy redirect: remove with "imdsguard proxy redirect --remove" (nft delete table inet ${table})`,
    `add table inet ${table}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    ...exempt,
    ...ind(redirects),
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    ...ind(redirects),
    '  }',
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    `    iifname != "lo" tcp dport { ${[...ports].join(', ')} } ct status & dnat == 0 drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function nft(args: string[], input?: string): void {
  const r = spawnSync('nft', args, { input, encoding: 'utf8' });
  if (r.error) throw new ImdsguardError('E_CONFIG', `Cannot run nft: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) throw new ImdsguardError('E_CONFIG', `nft ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

/** Load the ruleset (replacing an earlier one of ours). */
export function applyRedirect(opts: RedirectOptions): void {
  nft(['-f', '-'], redirectRuleset(opts));
}

/** Delete our table and nothing else. True when there was one. */
export function removeRedirect(table = NFT_TABLE): boolean {
  const r = spawnSync('nft', ['list', 'table', 'inet', table], { encoding: 'utf8' });
  if (r.error) throw new ImdsguardError('E_CONFIG', `Cannot run nft: ${r.error.message}`, { cause: r.error });
  if (r.status !== 0) return false;
  nft(['delete', 'table', 'inet', table]);
  return true;
}
