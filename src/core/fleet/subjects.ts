/** NATS subject patterns: whether two of them can match one subject. */

/**
 * True when some subject matches both patterns (tokens split on ".", `*` one token, `>` one or more trailing tokens).
 * @example subjectsOverlap('imds.v1.finding.>', 'imds.v1.*.x.y') // true
 * @example subjectsOverlap('imds.v1.hub.dead.>', 'imds.v1.finding.>') // false
 */
export function subjectsOverlap(a: string, b: string): boolean {
  const ta = a.split('.');
  const tb = b.split('.');
  for (let i = 0; ; i++) {
    const x = ta[i];
    const y = tb[i];
    if (x === undefined || y === undefined) return x === y;
    if (x === '>' || y === '>') return true;
    if (x !== y && x !== '*' && y !== '*') return false;
  }
}
