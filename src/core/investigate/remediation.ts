import { cmd, shq } from '../posture/posture-shell.ts';
import type { Step } from './step.ts';

/** One thing to do, with the commands that do it (to review, then run). */
export interface RemediationStep {
  title: string;
  commands: string[];
  why: string;
}

/** IAM role names: what IAM accepts. A name read from a request path that is not one is not put in a command. */
const IAM_ROLE = /^[\w+=,.@-]{1,64}$/;
const EC2_INSTANCE = /^i-[0-9a-f]{8,17}$/;
/**
 * Characters no command to review and paste should hold: NUL and other controls (a file name on disk has no NUL) and
 * bidirectional overrides, which make a command read otherwise than it runs.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
const UNPASTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * What to do about an incident, from what its steps name: revoke the sessions of each role whose credentials were
 * taken, require IMDSv2 with a hop limit of 1 on each instance, block the request pattern at the WAF, and clean
 * the logs the key leaked into. Names that reach a command are validated and shell-quoted.
 */
export function remediationFor(steps: readonly Step[]): RemediationStep[] {
  const out: RemediationStep[] = [];
  const kinds = new Set(steps.map((s) => s.kind));
  const aws = steps.some((s) => s.provider === 'aws' || s.rule.includes('aws'));
  const roles = [...new Set(steps.flatMap((s) => s.roles))].filter((r) => IAM_ROLE.test(r)).sort();
  const instances = [
    ...new Set(steps.map((s) => s.instance).filter((i): i is string => Boolean(i && EC2_INSTANCE.test(i)))),
  ].sort();
  const taken =
    kinds.has('ssrf-success') || kinds.has('credential-leak') || kinds.has('cloud-use') || kinds.has('cloud-recon');
  if (aws && taken && roles.length > 0) {
    out.push({
      title: 'Revoke the sessions of the role whose credentials were taken',
      commands: roles.map(
        (r) =>
          `aws iam put-role-policy --role-name ${shq(r)} --policy-name AWSRevokeOlderSessions --policy-document ` +
          `"{\\"Version\\":\\"2012-10-17\\",\\"Statement\\":[{\\"Effect\\":\\"Deny\\",\\"Action\\":\\"*\\",\\"Resource\\":\\"*\\",` +
          `\\"Condition\\":{\\"DateLessThan\\":{\\"aws:TokenIssueTime\\":\\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\\"}}}]}"`,
      ),
      why: 'Instance credentials stay valid for hours after they are stolen; denying every session issued before now ends them (the instance gets new ones).',
    });
  }
  if (aws && (taken || kinds.has('host-fetch') || kinds.has('posture'))) {
    const ids = instances.length > 0 ? instances : ['INSTANCE_ID'];
    out.push({
      title: 'Require IMDSv2 with a hop limit of 1',
      commands: ids.map((i) =>
        cmd(
          'aws',
          'ec2',
          'modify-instance-metadata-options',
          '--instance-id',
          i,
          '--http-tokens',
          'required',
          '--http-put-response-hop-limit',
          '1',
          '--http-endpoint',
          'enabled',
        ),
      ),
      why:
        instances.length > 0
          ? 'A session token and a hop limit of 1 stop SSRF through the application and requests from containers behind a bridge.'
          : 'The evidence names no instance: run it for each instance behind the application in the evidence.',
    });
  }
  if (kinds.has('ssrf-attempt') || kinds.has('ssrf-success')) {
    out.push({
      title: 'Block metadata addresses in requests at the WAF',
      commands: [
        'imdsguard export --to aws-waf -o imdsguard-waf',
        'aws wafv2 create-regex-pattern-set --cli-input-json file://imdsguard-waf/imdsguard-aws-waf-regex-pattern-sets.json',
        'aws wafv2 create-rule-group --cli-input-json file://imdsguard-waf/imdsguard-aws-waf-rule-group.json',
      ],
      why: 'The rule group matches metadata addresses and paths in the URI, query, body and URL-bearing headers after decoding; the pattern-set file lists one set per entry (fill each ARN into the rule group). Then fix the endpoint that fetches user-supplied URLs.',
    });
  }
  const named = [
    ...new Set(steps.filter((s) => s.kind === 'credential-leak' && s.origin.file).map((s) => s.origin.file!)),
  ].sort();
  const leakFiles = named.filter((f) => !UNPASTABLE.test(f));
  const unnamed = named.length - leakFiles.length;
  if (named.length > 0) {
    out.push({
      title: 'Remove the credentials from the logs',
      commands: leakFiles.map((f) => {
        // A relative name starting with `-` would be read as an option: `./-q.log` is the same file.
        const path = f.startsWith('-') ? `./${f}` : f;
        return cmd('imdsguard', 'redact', '-o', `${path}.redacted`, path);
      }),
      why:
        'The log still holds the secret: keep the redacted copy, drop the original from every store it was shipped to, and fix what logged it.' +
        (unnamed > 0
          ? ` ${unnamed} log name(s) hold control or bidirectional characters and are left out of the commands: see the leak steps for them.`
          : ''),
    });
  }
  return out;
}
