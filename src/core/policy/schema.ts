/** The policy file's shape (YAML), validated with zod before it is compiled into matchers. */
import { z } from 'zod';
import { callerMatchFields, globText } from '../caller/schema.ts';
import { PATH_CLASSES } from '../model/hit.ts';
import { SEVERITIES } from '../model/severity.ts';

const action = z.enum(['allow', 'deny', 'audit']);
const oneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]);
const duration = z.union([
  z.number().positive(),
  z.string().regex(/^\d+(?:\.\d+)?(?:ms|s|m|h)$/, 'expected a duration such as "1s", "500ms" or "1m"'),
]);

export const rateLimitSchema = z
  .object({
    requests: z.number().int().positive(),
    per: duration.default('1s'),
  })
  .strict();

const protections = {
  imdsv2_only: z.boolean().optional(),
  reject_forwarded: z.boolean().optional(),
  rate_limit: rateLimitSchema.optional(),
};

export const matchSchema = z
  .object({
    // Who: the caller-matching language shared with the agent allowlist (src/core/caller/match.ts).
    ...callerMatchFields,
    exe_sha256: oneOrMany(z.string().regex(/^(?:sha256:)?[0-9a-fA-F]{64}$/, 'expected a sha256 hex digest')).optional(),
    // What:
    method: oneOrMany(z.string().regex(/^[A-Za-z]+$/, 'expected an HTTP method')).optional(),
    path: oneOrMany(globText(2048).refine((p) => p.startsWith('/'), 'a path glob starts with "/"')).optional(),
    provider: oneOrMany(globText(100)).optional(),
    path_class: oneOrMany(z.enum(PATH_CLASSES)).optional(),
  })
  .strict();

export const ruleSchema = z
  .object({
    name: z.string().min(1),
    match: matchSchema.default({}),
    action,
    report: z.boolean().optional(),
    severity: z.enum(SEVERITIES).optional(),
    ...protections,
  })
  .strict();

export const defaultsSchema = z
  .object({
    other_namespaces: action.default('deny'),
    unknown_caller: action.default('deny'),
    target_check: z.boolean().default(true),
    unmatched: action.default('audit'),
    imdsv2_only: z.boolean().default(false),
    reject_forwarded: z.boolean().default(true),
    rate_limit: rateLimitSchema.optional(),
  })
  .strict();

export const policySchema = z
  .object({
    version: z.literal(1).optional(),
    defaults: defaultsSchema.default(defaultsSchema.parse({})),
    rules: z.array(ruleSchema).default([]),
    /** Listener/upstream pairs, so `proxy` and `proxy redirect` read the same ports from one file. */
    listeners: z
      .array(
        z
          .object({
            listen: z.string().regex(/^(?:\[[0-9A-Fa-f:.]+\]|[0-9.]+):\d{1,5}$/, 'expected ADDR:PORT or [V6]:PORT'),
            upstream: z.string().regex(/^http:\/\/[^/?#]+\/?$/, 'expected http://ADDRESS[:PORT]'),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();

export type RawPolicy = z.infer<typeof policySchema>;
export type RawRule = z.infer<typeof ruleSchema>;
export type RawMatch = z.infer<typeof matchSchema>;
