/** Exit codes scripts rely on (see the output contract). */
export const EXIT = {
  ok: 0,
  findings: 1,
  error: 2,
  sigint: 130,
} as const;
