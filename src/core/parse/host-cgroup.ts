/** Container identity read from a process's /proc/<pid>/cgroup text (cgroup v1, v2 or hybrid). */
export interface ContainerIdentity {
  /** 64-hex container id (or the runtime's own id form). */
  id: string;
  runtime: 'docker' | 'containerd' | 'cri-o' | 'podman' | 'kubernetes' | 'lxc' | 'unknown';
  /** Kubernetes pod uid when the cgroup path names one. */
  podUid?: string;
  /** The cgroup path the identity was read from (for baselines when no image is known). */
  cgroup: string;
}

const ID = '([0-9a-f]{64})';
/** Most specific first: a containerd id under a kubepods slice is a Kubernetes container. */
const PATTERNS: Array<{ re: RegExp; runtime: ContainerIdentity['runtime'] }> = [
  { re: new RegExp(`crio-(?:conmon-)?${ID}`), runtime: 'cri-o' },
  { re: new RegExp(`cri-containerd-${ID}`), runtime: 'containerd' },
  { re: new RegExp(`libpod-(?:conmon-)?${ID}`), runtime: 'podman' },
  { re: new RegExp(`docker-${ID}\\.scope`), runtime: 'docker' },
  { re: new RegExp(`/docker/${ID}`), runtime: 'docker' },
  { re: new RegExp(`/kubepods[^\\n]*/${ID}`), runtime: 'kubernetes' },
  { re: new RegExp(`/(?:containerd|default)/${ID}`), runtime: 'containerd' },
  { re: /\/lxc(?:\.payload)?[./]([^/\n]+)/, runtime: 'lxc' },
];
const POD = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/;

/**
 * Find the container a process runs in from its cgroup file. Returns undefined for host processes.
 * @example parseCgroup('0::/system.slice/docker-<64 hex>.scope') // { id, runtime: 'docker', … }
 */
export function parseCgroup(text: string): ContainerIdentity | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    if (!path) continue;
    for (const { re, runtime } of PATTERNS) {
      const m = re.exec(path);
      if (!m?.[1]) continue;
      const pod = POD.exec(path)?.[1]?.replace(/_/g, '-');
      return {
        id: m[1],
        runtime: runtime === 'kubernetes' || !pod ? runtime : runtime,
        ...(pod ? { podUid: pod } : {}),
        cgroup: path,
      };
    }
  }
  return undefined;
}
