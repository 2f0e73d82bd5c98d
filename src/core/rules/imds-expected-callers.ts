import type { CallerFacts, CallerMatcher } from '../caller/match.ts';
import type { PathClass } from '../model/hit.ts';

/**
 * A caller that is expected to talk to the metadata service: a built-in cloud agent (an `exe` regexp over the exe
 * path or argv[0]/argv[1], since several agents are interpreter scripts) or a user allowlist entry (`caller`,
 * compiled from the caller-matching language shared with the proxy policy).
 */
export interface CallerPattern {
  name: string;
  /** Built-in agents: regexp over the executable path (or the script an interpreter runs, argv[1]). */
  exe?: RegExp;
  /** Allowlist entries: the shared caller language (src/core/caller/match.ts). */
  caller?: CallerMatcher;
  /** Exact user name, when the entry is bound to one. */
  user?: string;
  /** Container id, image or cgroup substring; `host` means not in a container. */
  container?: string;
  /** Path classes it may read; absent means any. */
  pathClasses?: PathClass[];
}

/**
 * Cloud agents that read metadata by design. Binaries and the scripts interpreters run (cloud-init and waagent are
 * Python; the EC2 Instance Connect helpers are shell scripts that call curl).
 */
export const EXPECTED_CALLERS: readonly CallerPattern[] = [
  { name: 'AWS SSM agent', exe: /\/(?:amazon-ssm-agent|ssm-agent-worker|ssm-session-worker|ssm-document-worker)$/ },
  { name: 'cloud-init', exe: /\/cloud-init$|\/cloud-init\/|\/cloudinit\// },
  { name: 'EC2 Instance Connect', exe: /\/eic_(?:run|curl|parse|harvest)_authorized_keys$|\/ec2-instance-connect\// },
  { name: 'CloudWatch agent', exe: /\/amazon-cloudwatch-agent$|\/start-amazon-cloudwatch-agent$/ },
  { name: 'Amazon Inspector', exe: /\/opt\/aws\/inspector\/|\/inspector-agent$|\/inspectorssmplugin$/ },
  { name: 'ECS agent', exe: /\/(?:amazon-ecs-agent|ecs-agent|agent)$/, container: 'ecs-agent' },
  { name: 'EKS Pod Identity agent', exe: /\/eks-pod-identity-agent$/ },
  { name: 'Amazon VPC CNI', exe: /\/aws-k8s-agent$|\/aws-node$/ },
  { name: 'EC2 hibernation/net utils', exe: /\/ec2-(?:hibinit-agent|net-utils|metadata)$|\/ec2net-functions$/ },
  { name: 'Azure Linux agent', exe: /\/waagent$|\/WALinuxAgent|\/azurelinuxagent\// },
  {
    name: 'Google guest agent',
    exe: /\/google_(?:guest_agent|metadata_script_runner|osconfig_agent|oslogin_nss|clock_skew_daemon|set_hostname|accounts_daemon|network_daemon)$|\/guest-agent$/,
  },
  { name: 'Google OS Login', exe: /\/google_(?:authorized_keys|oslogin_.*)$/ },
  { name: 'Oracle Cloud Agent', exe: /\/oracle-cloud-agent\/|\/oracle-cloud-agent$|\/oci-wlp$/ },
  { name: 'Alibaba Cloud Assistant', exe: /\/aliyun-service$|\/assist_daemon$/ },
  { name: 'chrony/ntp (link-local time source)', exe: /\/(?:chronyd|ntpd)$/ },
];

/** The subject a caller pattern is matched against. */
export interface CallerSubject extends CallerFacts {
  argv?: string[] | undefined;
  pathClass: PathClass | null;
}

function exeCandidates(s: CallerSubject): string[] {
  const out: string[] = [];
  if (s.exe) out.push(s.exe);
  // An interpreter runs a script: the script names the program (python3 /usr/bin/cloud-init …).
  if (s.argv?.[0]) out.push(s.argv[0]);
  if (s.argv?.[1] && !s.argv[1].startsWith('-')) out.push(s.argv[1]);
  return out.map((x) => (x.startsWith('/') ? x : `/${x}`));
}

/** Does this pattern describe the subject? */
export function callerMatches(p: CallerPattern, s: CallerSubject): boolean {
  if (p.caller && !p.caller(s)) return false;
  if (p.exe) {
    const re = p.exe;
    if (!exeCandidates(s).some((x) => re.test(x))) return false;
  }
  if (p.user !== undefined && p.user !== s.user) return false;
  if (p.container !== undefined) {
    if (p.container === 'host') {
      if (s.container) return false;
    } else if (!(s.container?.includes(p.container) || s.containerKey?.includes(p.container))) return false;
  }
  if (p.pathClasses && (s.pathClass === null || !p.pathClasses.includes(s.pathClass))) return false;
  return true;
}

/** The first expected caller or allowlist entry that describes the subject, if any. */
export function expectedCaller(s: CallerSubject, allow: readonly CallerPattern[] = []): CallerPattern | undefined {
  return [...allow, ...EXPECTED_CALLERS].find((p) => callerMatches(p, s));
}
