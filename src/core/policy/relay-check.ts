/**
 * Requests the proxy refuses because it could not relay them as the policy saw them:
 * - a `Connection` header naming other headers: those are hop-by-hop and dropped before forwarding, so the policy
 *   would have judged a token or TTL header the service never receives (only `close` and `keep-alive` pass);
 * - a body on GET or HEAD: metadata reads carry none, and a server that reads one differently from us is a request
 *   smuggled past the policy.
 * @example relayProblem('GET', { 'content-length': '5' }) // 'a GET request with a body'
 */
export function relayProblem(method: string, headers: Readonly<Record<string, string | undefined>>): string | null {
  const conn = headers.connection;
  if (conn !== undefined) {
    for (const part of conn.split(',')) {
      const name = part.trim().toLowerCase();
      if (name !== '' && name !== 'close' && name !== 'keep-alive')
        return `Connection names "${name}" (hop-by-hop headers are not relayed)`;
    }
  }
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD') {
    const cl = headers['content-length'];
    if (headers['transfer-encoding'] !== undefined || (cl !== undefined && cl.trim() !== '0'))
      return `a ${m} request with a body`;
  }
  return null;
}
