/**
 * `dockscope audit`: security findings about containers and images, each with a severity and the
 * MITRE ATT&CK technique it enables or indicates. Everything is read from the stored settings
 * (`hostconfig.json`, `config.v2.json` MountPoints/Config.Env, image configs); nothing runs.
 *
 * Severity is about what the setting gives a process inside the container (or someone who finds
 * the evidence), not about whether it was exploited:
 *  - high:   a direct way onto the host (privileged, the Docker socket, host PID namespace,
 *            escape capabilities, writable sensitive host paths, raw disks);
 *  - medium: weakens isolation or exposes host data or credentials;
 *  - low:    worth knowing (persistence by restart policy, ports on all interfaces, untagged image);
 *  - info:   context.
 *
 * Facts it relies on (FORMATS.md §2.1, §2.2): HostConfig is only in `hostconfig.json`; `CapAdd`
 * may be stored with or without `CAP_`; `Binds` are `src:dst[:opts]` (a `src` without a leading
 * `/` is a named volume); `MountPoints` in `config.v2.json` are what the daemon resolved (Type,
 * Source, RW) for Binds and Mounts alike; `RestartPolicy.Name` is `no|always|unless-stopped|
 * on-failure`; `PortBindings` HostIp `""` means every interface.
 */
import path from 'node:path/posix';
import type { ContainerNode, ImageNode, Model } from '../model/graph.js';
import { isObject, str } from '../store/read.js';

export type AuditSeverity = 'high' | 'medium' | 'low' | 'info';

export const SEVERITY_ORDER: Record<AuditSeverity, number> = { high: 0, medium: 1, low: 2, info: 3 };

/** The ATT&CK techniques findings are filed under. */
export const TECHNIQUES = {
  T1611: 'Escape to Host',
  T1610: 'Deploy Container',
  'T1543.005': 'Create or Modify System Process: Container Service',
  T1133: 'External Remote Services',
  'T1552.001': 'Unsecured Credentials: Credentials In Files',
} as const;

export type TechniqueId = keyof typeof TECHNIQUES;

export type AuditRule =
  | 'privileged'
  | 'docker-socket'
  | 'host-path'
  | 'host-namespace'
  | 'capability'
  | 'seccomp-unconfined'
  | 'apparmor-unconfined'
  | 'label-disabled'
  | 'systempaths-unconfined'
  | 'device'
  | 'device-cgroup-rule'
  | 'image-gone'
  | 'untagged-image'
  | 'restart-policy'
  | 'published-port'
  | 'secret-env';

export interface AuditSubject {
  kind: 'container' | 'image';
  id: string;
  /** Container name without the leading '/', or the image's first tag. */
  name?: string;
}

export interface AuditFinding {
  severity: AuditSeverity;
  technique: TechniqueId;
  techniqueName: string;
  rule: AuditRule;
  subject: AuditSubject;
  /** One line saying what was found. May quote evidence: escape before printing. */
  title: string;
  /** Why it matters / what it allows. */
  detail?: string;
  /** Where it was read: evidence path relative to the data root, and the field. */
  path: string;
  field: string;
  /** The stored value (masked for secrets unless showSecrets). */
  value: string;
}

export interface AuditReport {
  findings: AuditFinding[];
  counts: Record<AuditSeverity, number>;
  containers: number;
  images: number;
  /** Whether secret values are shown in clear. */
  secretsShown: boolean;
}

export interface AuditOptions {
  showSecrets?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Host paths.

/**
 * Host paths whose bind mount (or any path under them) hands the container host data or control.
 * `/`, `/var` and `/var/lib` only match exactly: everything is under `/`.
 */
const SENSITIVE_TREES = [
  '/etc',
  '/proc',
  '/sys',
  '/dev',
  '/root',
  '/home',
  '/boot',
  '/lib/modules',
  '/usr',
  '/bin',
  '/sbin',
  '/lib',
  '/lib64',
  '/run',
  '/var/run',
  '/var/log',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/var/lib/kubelet',
  '/var/lib/rancher',
  '/etc/kubernetes',
];
const SENSITIVE_EXACT = ['/', '/var', '/var/lib'];
/** Paths that contain the Docker socket: reaching it needs no write access to the mount (connect(2) on a read-only mount works). */
const HOLDS_SOCKET = ['/', '/var', '/run', '/var/run'];
/** Container-runtime API sockets: whoever can connect runs anything on the host. */
const RUNTIME_SOCKETS = ['docker.sock', 'containerd.sock', 'crio.sock', 'podman.sock', 'dockershim.sock', 'buildkitd.sock', 'cri-dockerd.sock'];

/** Normalises a host path from evidence: posix-normalised, no trailing slash, '/' kept. */
export function normHostPath(p: string): string {
  if (!p.startsWith('/')) return p;
  const n = path.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** The sensitive path a host path is (or lies under), if any. */
export function sensitiveHostPath(p: string): string | undefined {
  const n = normHostPath(p);
  if (SENSITIVE_EXACT.includes(n)) return n;
  let best: string | undefined;
  for (const t of SENSITIVE_TREES) if ((n === t || n.startsWith(t + '/')) && (best === undefined || t.length > best.length)) best = t;
  return best;
}

export function isRuntimeSocket(p: string): boolean {
  const base = path.basename(normHostPath(p));
  return RUNTIME_SOCKETS.includes(base);
}

interface BindMount {
  source: string;
  destination: string;
  rw: boolean;
  path: string;
  field: string;
}

/** Bind mounts from MountPoints (what the daemon resolved), HostConfig.Binds and HostConfig.Mounts. */
export function bindMounts(c: ContainerNode): BindMount[] {
  const dir = `containers/${c.record.dirId}`;
  const out: BindMount[] = [];
  const seen = new Set<string>();
  const add = (b: BindMount) => {
    const k = `${normHostPath(b.source)}\0${normHostPath(b.destination)}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(b);
  };
  for (const m of c.record.mountPoints) {
    if (m.Type !== 'bind' && !(m.Type === '' && m.Name === '' && m.Source.startsWith('/'))) continue;
    add({ source: m.Source, destination: m.Destination, rw: m.RW, path: `${dir}/config.v2.json`, field: `MountPoints[${JSON.stringify(m.Destination)}]` });
  }
  const hc = c.record.hostConfig;
  if (hc) {
    const binds = Array.isArray(hc.Binds) ? hc.Binds : [];
    binds.forEach((b, i) => {
      if (typeof b !== 'string') return;
      // src:dst[:opts] — a src without '/' is a named volume.
      const parts = b.split(':');
      if (parts.length < 2 || !parts[0]!.startsWith('/')) return;
      const opts = parts.length > 2 ? parts.slice(2).join(':').split(',') : [];
      add({ source: parts[0]!, destination: parts[1]!, rw: !opts.includes('ro'), path: `${dir}/hostconfig.json`, field: `Binds[${i}]` });
    });
    const mounts = Array.isArray(hc.Mounts) ? hc.Mounts : [];
    mounts.forEach((m, i) => {
      if (!isObject(m) || str(m.Type) !== 'bind') return;
      const source = str(m.Source);
      const target = str(m.Target);
      if (!source || !target) return;
      add({ source, destination: target, rw: m.ReadOnly !== true, path: `${dir}/hostconfig.json`, field: `Mounts[${i}]` });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Capabilities.

/** Docker's default capability set: adding one of these changes nothing. */
const DEFAULT_CAPS = new Set(['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE']);
const HIGH_CAPS: Record<string, string> = {
  ALL: 'every capability: as good as --privileged for the kernel API',
  SYS_ADMIN: 'mount, cgroup release_agent, namespaces: the classic container escape',
  SYS_PTRACE: 'trace and inject into processes (host processes with --pid host)',
  SYS_MODULE: 'load kernel modules',
  DAC_READ_SEARCH: 'open_by_handle_at: read any host file (the "shocker" escape)',
  SYS_RAWIO: 'raw I/O ports and /dev/mem access',
  SYS_BOOT: 'reboot the host, kexec',
  BPF: 'load BPF programs into the kernel',
  MAC_ADMIN: 'change the host LSM (AppArmor/SELinux) policy',
  MAC_OVERRIDE: 'override the host LSM policy',
};
const MEDIUM_CAPS: Record<string, string> = {
  NET_ADMIN: 'reconfigure networking, sniff and redirect traffic in the namespace it shares',
  SYS_RESOURCE: 'exceed resource limits',
  SYS_TIME: 'set the host clock',
  SYSLOG: 'read the kernel log (kernel addresses)',
  PERFMON: 'perf monitoring, kernel information',
  AUDIT_CONTROL: 'change the host audit rules',
  AUDIT_READ: 'read the host audit log',
  LINUX_IMMUTABLE: 'change immutable/append-only flags',
  IPC_OWNER: 'bypass IPC permission checks',
  SYS_NICE: 'change scheduling of other processes',
  SYS_PACCT: 'process accounting',
  SYS_TTY_CONFIG: 'configure ttys',
  CHECKPOINT_RESTORE: 'checkpoint/restore other processes',
  NET_BROADCAST: 'broadcast and multicast',
  IPC_LOCK: 'lock memory',
  LEASE: 'file leases',
  WAKE_ALARM: 'wake alarms',
  BLOCK_SUSPEND: 'block system suspend',
};

// ---------------------------------------------------------------------------------------------
// Secrets.

/** Name components that say "credential". */
const SECRET_WORDS = new Set([
  'SECRET',
  'SECRETS',
  'PASSWORD',
  'PASSWORDS',
  'PASSWD',
  'PASS',
  'PWD',
  'TOKEN',
  'TOKENS',
  'KEY',
  'KEYS',
  'APIKEY',
  'PRIVATE',
  'CREDENTIAL',
  'CREDENTIALS',
  'CREDS',
  'AUTH',
  'PASSPHRASE',
  'DSN',
]);
/** Names that match the words but are not secrets, seen in official images. */
const NOT_SECRET = new Set(['PWD', 'OLDPWD', 'GPG_KEY', 'GPG_KEYS', 'PUBLIC_KEY', 'KEYRING', 'AUTH_METHOD', 'KEY_ID']);
const NOT_SECRET_WORDS = new Set(['PUBLIC', 'FINGERPRINT', 'FILE', 'PATH', 'DIR', 'URL_PATH', 'ID', 'KEYSERVER', 'SERVER', 'TYPE', 'SIZE', 'LENGTH', 'ALGORITHM', 'NAME', 'MODE', 'ENABLED']);
/** Values that look like credentials whatever the name. */
const SECRET_VALUES: [RegExp, string][] = [
  [/\bAKIA[0-9A-Z]{16}\b/, 'AWS access key ID'],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}\b/, 'GitHub token'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, 'Slack token'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key'],
  [/\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, 'URL with a password'],
  [/\bglpat-[A-Za-z0-9_-]{20,}\b/, 'GitLab token'],
];

/** Why an environment variable looks like a credential, or undefined. */
export function secretReason(name: string, value: string): string | undefined {
  const upper = name.toUpperCase();
  if (value === '') return undefined;
  for (const [re, what] of SECRET_VALUES) if (re.test(value)) return `value looks like a ${what}`;
  if (NOT_SECRET.has(upper)) return undefined;
  if (upper.startsWith('AWS_')) return 'AWS_* variable';
  const words = upper.split(/[^A-Z0-9]+/).filter(Boolean);
  if (words.some((w) => NOT_SECRET_WORDS.has(w))) return undefined;
  const hit = words.find((w) => SECRET_WORDS.has(w) || /^(SECRET|PASSWORD|PASSWD|APIKEY|CREDENTIAL)/.test(w) || /(SECRET|PASSWORD|PASSWD|TOKEN|APIKEY)$/.test(w));
  if (hit === 'PWD' && words.length === 1) return undefined;
  return hit ? `name contains ${hit}` : undefined;
}

/** A masked value: its length only. */
export function maskSecret(value: string): string {
  return `******** (${[...value].length} chars)`;
}

// ---------------------------------------------------------------------------------------------
// Ports.

const SENSITIVE_PORTS: Record<number, string> = {
  22: 'SSH',
  23: 'telnet',
  2375: 'Docker API (plain)',
  2376: 'Docker API (TLS)',
  2379: 'etcd',
  3306: 'MySQL',
  3389: 'RDP',
  5432: 'PostgreSQL',
  5900: 'VNC',
  5984: 'CouchDB',
  6379: 'Redis',
  8500: 'Consul',
  9200: 'Elasticsearch',
  10250: 'kubelet',
  11211: 'memcached',
  27017: 'MongoDB',
};

function allInterfaces(hostIp: string): boolean {
  return hostIp === '' || hostIp === '0.0.0.0' || hostIp === '::' || hostIp === '[::]';
}

// ---------------------------------------------------------------------------------------------

function containerName(c: ContainerNode): string {
  return c.record.name.replace(/^\//, '') || c.id.slice(0, 12);
}

function imageName(img: ImageNode): string | undefined {
  return img.repoTags[0] ?? img.repoDigests[0];
}

function auditContainer(c: ContainerNode, opts: AuditOptions, out: AuditFinding[]): void {
  const dir = `containers/${c.record.dirId}`;
  const hcPath = `${dir}/hostconfig.json`;
  const cfgPath = `${dir}/config.v2.json`;
  const subject: AuditSubject = { kind: 'container', id: c.id, name: containerName(c) };
  const add = (f: Omit<AuditFinding, 'subject' | 'techniqueName'>) => out.push({ ...f, techniqueName: TECHNIQUES[f.technique], subject });
  const hc = c.record.hostConfig ?? {};

  // --- T1611: escape to host ---
  if (hc.Privileged === true)
    add({
      severity: 'high',
      technique: 'T1611',
      rule: 'privileged',
      title: 'privileged container',
      detail: 'every capability, every host device, no seccomp/AppArmor confinement: mounting the host disk is one command',
      path: hcPath,
      field: 'Privileged',
      value: 'true',
    });

  for (const b of bindMounts(c)) {
    const src = normHostPath(b.source);
    const mode = b.rw ? 'read-write' : 'read-only';
    if (isRuntimeSocket(src) || isRuntimeSocket(b.destination)) {
      add({
        severity: 'high',
        technique: 'T1611',
        rule: 'docker-socket',
        title: `container runtime socket ${b.source} bound at ${b.destination} (${mode})`,
        detail: 'whoever can connect to the socket starts a privileged container on the host; read-only does not stop connect(2)',
        path: b.path,
        field: b.field,
        value: `${b.source}:${b.destination}${b.rw ? '' : ':ro'}`,
      });
      continue;
    }
    const hit = sensitiveHostPath(src);
    if (!hit) continue;
    const socketInside = HOLDS_SOCKET.includes(src);
    add({
      severity: b.rw || socketInside ? 'high' : 'medium',
      technique: 'T1611',
      rule: 'host-path',
      title: `host path ${b.source} bound at ${b.destination} (${mode})`,
      detail:
        (hit === '/' ? 'the whole host filesystem' : `sensitive host path (${hit})`) +
        (b.rw ? ': writable, so host files (cron, systemd units, SSH keys, binaries) can be changed' : ': host data readable') +
        (socketInside && !b.rw ? '; it holds the Docker socket, which a read-only mount does not protect' : ''),
      path: b.path,
      field: b.field,
      value: `${b.source}:${b.destination}${b.rw ? '' : ':ro'}`,
    });
  }

  const ns: [string, string, AuditSeverity, string][] = [
    ['PidMode', 'PID', 'high', 'sees and signals every host process; with SYS_PTRACE or privileged, nsenter into PID 1 is an escape'],
    ['NetworkMode', 'network', 'medium', "the host's interfaces, localhost-only services and sniffable traffic"],
    ['IpcMode', 'IPC', 'medium', "the host's shared memory and semaphores"],
    ['UTSMode', 'UTS', 'low', 'can change the host name'],
    ['UsernsMode', 'user', 'medium', 'opts out of user-namespace remapping: root in the container is root on the host'],
  ];
  for (const [key, what, severity, detail] of ns) {
    if (str(hc[key]) !== 'host') continue;
    add({ severity, technique: 'T1611', rule: 'host-namespace', title: `host ${what} namespace (${key}=host)`, detail, path: hcPath, field: key, value: 'host' });
  }

  const capAdd = Array.isArray(hc.CapAdd) ? hc.CapAdd.filter((x): x is string => typeof x === 'string') : [];
  capAdd.forEach((raw, i) => {
    const cap = raw.toUpperCase().replace(/^CAP_/, '');
    if (DEFAULT_CAPS.has(cap)) return;
    const high = HIGH_CAPS[cap];
    const medium = MEDIUM_CAPS[cap];
    add({
      severity: high ? 'high' : medium ? 'medium' : 'low',
      technique: 'T1611',
      rule: 'capability',
      title: `capability added: ${cap}`,
      detail: high ?? medium ?? 'not in Docker\'s default set',
      path: hcPath,
      field: `CapAdd[${i}]`,
      value: raw,
    });
  });

  const secOpts = Array.isArray(hc.SecurityOpt) ? hc.SecurityOpt.filter((x): x is string => typeof x === 'string') : [];
  secOpts.forEach((raw, i) => {
    // "key=value" (current) or "key:value" (before 1.11).
    const m = /^([a-z-]+)[=:](.*)$/i.exec(raw);
    const key = m?.[1]?.toLowerCase();
    const val = m?.[2] ?? '';
    const base = { technique: 'T1611' as const, path: hcPath, field: `SecurityOpt[${i}]`, value: raw };
    if (key === 'seccomp' && val === 'unconfined')
      add({ ...base, severity: 'medium', rule: 'seccomp-unconfined', title: 'seccomp disabled (seccomp=unconfined)', detail: 'every system call reachable, including the ones container escapes use (mount, unshare, keyctl, bpf)' });
    else if (key === 'apparmor' && val === 'unconfined')
      add({ ...base, severity: 'medium', rule: 'apparmor-unconfined', title: 'AppArmor disabled (apparmor=unconfined)', detail: 'no docker-default profile: mount, /proc and /sys writes are not blocked' });
    else if (key === 'label' && (val === 'disable' || val === 'disabled'))
      add({ ...base, severity: 'low', rule: 'label-disabled', title: 'SELinux labelling disabled (label=disable)', detail: 'on SELinux hosts the container process is not confined by its label' });
    else if (key === 'systempaths' && val === 'unconfined')
      add({ ...base, severity: 'medium', rule: 'systempaths-unconfined', title: '/proc and /sys not masked (systempaths=unconfined)', detail: '/proc/kcore, /proc/sysrq-trigger, /sys/firmware and the like are reachable' });
  });

  const devices = Array.isArray(hc.Devices) ? hc.Devices : [];
  devices.forEach((d, i) => {
    if (!isObject(d)) return;
    const host = str(d.PathOnHost) ?? '';
    const inCtr = str(d.PathInContainer) ?? host;
    const perms = str(d.CgroupPermissions) ?? 'rwm';
    const raw = /^\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|dm-|md|loop|mapper\/|disk\/|mem$|kmem$|port$)/.test(host);
    add({
      severity: raw ? 'high' : 'medium',
      technique: 'T1611',
      rule: 'device',
      title: `host device ${host} mapped at ${inCtr} (${perms})`,
      detail: raw ? 'a host disk or memory device: host data readable and writable below the filesystem' : 'a host device node reachable from the container',
      path: hcPath,
      field: `Devices[${i}]`,
      value: `${host}:${inCtr}:${perms}`,
    });
  });
  const rules = Array.isArray(hc.DeviceCgroupRules) ? hc.DeviceCgroupRules.filter((x): x is string => typeof x === 'string') : [];
  rules.forEach((r, i) =>
    add({
      severity: /^(a|b)\b/.test(r.trim()) ? 'medium' : 'low',
      technique: 'T1611',
      rule: 'device-cgroup-rule',
      title: `device cgroup rule ${r}`,
      detail: 'lets the container use device nodes it creates or is given later',
      path: hcPath,
      field: `DeviceCgroupRules[${i}]`,
      value: r,
    }),
  );

  // --- T1610: deploy container ---
  const imageRef = c.record.image;
  const configImage = str(c.record.config.Image) ?? '';
  if (imageRef && !c.image)
    add({
      severity: 'medium',
      technique: 'T1610',
      rule: 'image-gone',
      title: `image ${imageRef} is gone${configImage ? ` (created from ${configImage})` : ''}`,
      detail: 'the image the container was created from was removed (docker rmi -f): what it ran can only be seen in the container\'s own layers',
      path: cfgPath,
      field: 'Image',
      value: imageRef,
    });
  else if (c.image && !c.image.loadable)
    add({
      severity: 'medium',
      technique: 'T1610',
      rule: 'image-gone',
      title: `image ${imageRef} would not be restored by Docker: ${c.image.dropReason ?? 'unloadable'}`,
      detail: 'the image is damaged or tampered with',
      path: cfgPath,
      field: 'Image',
      value: imageRef,
    });
  else if (c.image && c.image.repoTags.length === 0 && c.image.repoDigests.length === 0)
    add({
      severity: 'low',
      technique: 'T1610',
      rule: 'untagged-image',
      title: `runs untagged image ${imageRef}${configImage ? ` (created from ${configImage})` : ''}`,
      detail: 'the name it was created from now points elsewhere or was removed',
      path: cfgPath,
      field: 'Image',
      value: imageRef,
    });

  // --- T1543.005: persistence through the daemon ---
  const rp = isObject(hc.RestartPolicy) ? str(hc.RestartPolicy.Name) : undefined;
  if (rp === 'always' || rp === 'unless-stopped')
    add({
      severity: 'low',
      technique: 'T1543.005',
      rule: 'restart-policy',
      title: `restart policy ${rp}`,
      detail: 'the daemon starts the container again at every boot (unless-stopped: unless it was stopped by hand)',
      path: hcPath,
      field: 'RestartPolicy.Name',
      value: rp,
    });

  // --- T1133: exposure ---
  if (isObject(hc.PortBindings))
    for (const [cport, list] of Object.entries(hc.PortBindings)) {
      if (!Array.isArray(list)) continue;
      list.forEach((b, i) => {
        if (!isObject(b)) return;
        const ip = str(b.HostIp) ?? '';
        if (!allInterfaces(ip)) return;
        const hostPort = str(b.HostPort) ?? '';
        const svc = SENSITIVE_PORTS[Number.parseInt(hostPort, 10)] ?? SENSITIVE_PORTS[Number.parseInt(cport, 10)];
        add({
          severity: svc ? 'medium' : 'low',
          technique: 'T1133',
          rule: 'published-port',
          title: `port ${cport} published on all interfaces as ${ip || '0.0.0.0'}:${hostPort || '(random)'}`,
          detail: svc ? `${svc}: a remote-access or data service reachable from the network` : 'reachable from every network the host is on',
          path: hcPath,
          field: `PortBindings[${JSON.stringify(cport)}][${i}]`,
          value: `${ip}:${hostPort}->${cport}`,
        });
      });
    }
  if (hc.PublishAllPorts === true)
    add({
      severity: 'low',
      technique: 'T1133',
      rule: 'published-port',
      title: 'every exposed port published on all interfaces (-P)',
      path: hcPath,
      field: 'PublishAllPorts',
      value: 'true',
    });

  // --- T1552.001: credentials stored in the container config ---
  const imageEnv = new Set(envList(c.image?.config?.config?.Env));
  envList(c.record.config.Env).forEach((kv, i) => {
    const eq = kv.indexOf('=');
    const name = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? '' : kv.slice(eq + 1);
    const why = secretReason(name, value);
    if (!why) return;
    add({
      severity: 'medium',
      technique: 'T1552.001',
      rule: 'secret-env',
      title: `secret-looking environment variable ${name}`,
      detail: `${why}; stored in clear in config.v2.json${imageEnv.has(kv) ? ' (inherited from the image config)' : ''}`,
      path: cfgPath,
      field: `Config.Env[${i}]`,
      value: `${name}=${opts.showSecrets ? value : maskSecret(value)}`,
    });
  });
}

function envList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function imagePath(img: ImageNode): string {
  return img.store.kind === 'graphdriver' ? `${img.store.imageRoot}/imagedb/content/sha256/${img.id.slice(7)}` : `containerd content ${img.id}`;
}

function auditImage(img: ImageNode, opts: AuditOptions, out: AuditFinding[]): void {
  const subject: AuditSubject = { kind: 'image', id: img.id, name: imageName(img) };
  envList(img.config?.config?.Env).forEach((kv, i) => {
    const eq = kv.indexOf('=');
    const name = eq < 0 ? kv : kv.slice(0, eq);
    const value = eq < 0 ? '' : kv.slice(eq + 1);
    const why = secretReason(name, value);
    if (!why) return;
    out.push({
      severity: 'medium',
      technique: 'T1552.001',
      techniqueName: TECHNIQUES['T1552.001'],
      rule: 'secret-env',
      subject,
      title: `secret-looking environment variable ${name} in the image config`,
      detail: `${why}; baked into the image (ENV), shipped with every copy of it`,
      path: imagePath(img),
      field: `config.Env[${i}]`,
      value: `${name}=${opts.showSecrets ? value : maskSecret(value)}`,
    });
  });
}

/** Audits every container and image of the model. Findings sorted by severity, then subject. */
export function audit(model: Model, opts: AuditOptions = {}): AuditReport {
  const findings: AuditFinding[] = [];
  const containers = [...model.containers.values()];
  for (const c of containers) auditContainer(c, opts, findings);
  const images = [...model.images.values()];
  for (const img of images) auditImage(img, opts, findings);
  const subjectKey = (f: AuditFinding) => `${f.subject.kind === 'container' ? 0 : 1}${f.subject.name ?? ''}\0${f.subject.id}`;
  findings.sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      (subjectKey(a) < subjectKey(b) ? -1 : subjectKey(a) > subjectKey(b) ? 1 : 0) ||
      (a.technique < b.technique ? -1 : a.technique > b.technique ? 1 : 0) ||
      (a.field < b.field ? -1 : a.field > b.field ? 1 : 0),
  );
  const counts: Record<AuditSeverity, number> = { high: 0, medium: 0, low: 0, info: 0 };
  for (const f of findings) counts[f.severity]++;
  return { findings, counts, containers: containers.length, images: images.length, secretsShown: opts.showSecrets === true };
}
