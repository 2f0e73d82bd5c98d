/** The caller keys' shape (zod), shared by the proxy policy and the agent allowlist: see match.ts. */
import { z } from 'zod';
import { globProblem } from './glob.ts';

const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);

/** A text that may be a glob: refused when it is not a well-formed one (glob.ts), so the error names its line. */
export const globText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((s, ctx) => {
      const problem = globProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

export const callerMatchFields = {
  exe: oneOrMany(globText(500)).optional(),
  argv: oneOrMany(globText(500)).optional(),
  user: oneOrMany(globText(64)).optional(),
  uid: oneOrMany(z.number().int().nonnegative()).optional(),
  container: z.union([z.boolean(), oneOrMany(globText(300))]).optional(),
  netns: oneOrMany(z.union([z.enum(['host', 'other']), z.number().int().positive()])).optional(),
};
