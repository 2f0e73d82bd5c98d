/** The caller keys' shape (zod), shared by the proxy policy and the agent allowlist: see match.ts. */
import { z } from 'zod';

const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);

export const callerMatchFields = {
  exe: oneOrMany(z.string().min(1).max(500)).optional(),
  argv: oneOrMany(z.string().min(1).max(500)).optional(),
  user: oneOrMany(z.string().min(1).max(64)).optional(),
  uid: oneOrMany(z.number().int().nonnegative()).optional(),
  container: z.union([z.boolean(), oneOrMany(z.string().min(1).max(300))]).optional(),
  netns: oneOrMany(z.union([z.enum(['host', 'other']), z.number().int().positive()])).optional(),
};
