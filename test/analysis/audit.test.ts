/**
 * audit on synthetic models: each rule fires on the setting it is about, at the severity it
 * documents, and stays quiet on the defaults Docker writes for an ordinary container.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { audit, bindMounts, maskSecret, secretReason, sensitiveHostPath, type AuditFinding } from '../../src/analysis/audit.js';
import { auditTable } from '../../src/cli/audit.js';
import { Model, type ContainerNode, type ImageNode } from '../../src/model/graph.js';
import { makeStyle } from '../../src/render/style.js';
import type { ContainerRecord, MountPoint } from '../../src/store/containers.js';
import type { Source } from '../../src/source/types.js';

const IMG = 'sha256:' + 'a'.repeat(64);

/** hostconfig.json as Docker 26 writes it for `docker run --network none busybox`. */
function defaultHostConfig(): Record<string, unknown> {
  return {
    Binds: null,
    NetworkMode: 'none',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: 'host',
    IpcMode: 'private',
    PidMode: '',
    UTSMode: '',
    UsernsMode: '',
    Privileged: false,
    PublishAllPorts: false,
    SecurityOpt: null,
    Devices: [],
    DeviceCgroupRules: null,
  };
}

let n = 0;
function container(opts: { name?: string; hc?: Record<string, unknown>; env?: string[]; mounts?: Partial<MountPoint>[]; image?: ImageNode | null; imageRef?: string } = {}): ContainerNode {
  const id = (++n).toString(16).padStart(64, 'c');
  const rec: ContainerRecord = {
    dirId: id,
    id,
    raw: {},
    name: `/${opts.name ?? `c${n}`}`,
    created: '2026-01-01T00:00:00Z',
    path: 'sh',
    args: [],
    image: opts.imageRef ?? IMG,
    driver: 'overlay2',
    logPath: '',
    restartCount: 0,
    state: { Running: false, Paused: false, Restarting: false, OOMKilled: false, RemovalInProgress: false, Dead: false, Pid: 0, ExitCode: 0, Error: '', StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' },
    config: { Image: 'app:1', Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    mountPoints: (opts.mounts ?? []).map((m) => ({ Source: '', Destination: '', RW: true, Name: '', Driver: '', Type: 'bind', Mode: '', Propagation: '', raw: {}, ...m })),
    hostConfig: { ...defaultHostConfig(), ...(opts.hc ?? {}) },
    files: [],
  };
  return { id, record: rec, image: opts.image === null ? undefined : (opts.image ?? image()) };
}

function image(opts: { tags?: string[]; env?: string[]; loadable?: boolean } = {}): ImageNode {
  return {
    id: IMG,
    store: { kind: 'graphdriver', imageRoot: 'image/overlay2' },
    record: { id: IMG, computedId: IMG, builtLocally: false, bytes: 0 },
    config: { raw: {}, diffIDs: [], history: [], config: { Env: opts.env ?? ['PATH=/usr/bin'] } },
    repoTags: opts.tags ?? ['app:1'],
    repoDigests: [],
    layers: [],
    loadable: opts.loadable ?? true,
    size: 0,
    children: [],
  } as unknown as ImageNode;
}

function modelOf(containers: ContainerNode[], images: ImageNode[] = []): Model {
  const m = new Model({} as Source);
  for (const c of containers) m.containers.set(c.id, c);
  for (const i of images) m.images.set(i.id, i);
  return m;
}

function run(c: ContainerNode, opts: { showSecrets?: boolean } = {}): AuditFinding[] {
  return audit(modelOf([c]), opts).findings;
}

function only(list: AuditFinding[], rule: string): AuditFinding[] {
  return list.filter((f) => f.rule === rule);
}

describe('audit rules', () => {
  test('an ordinary container (Docker defaults, tagged image) has no findings', () => {
    assert.deepEqual(run(container()), []);
  });

  test('privileged: high, T1611', () => {
    const [f, ...rest] = run(container({ hc: { Privileged: true } }));
    assert.equal(rest.length, 0);
    assert.equal(f!.rule, 'privileged');
    assert.equal(f!.severity, 'high');
    assert.equal(f!.technique, 'T1611');
    assert.equal(f!.techniqueName, 'Escape to Host');
    assert.match(f!.path, /^containers\/c+\w*\/hostconfig\.json$/);
  });

  test('docker socket: high even read-only, reported once (not also as a host path), from Binds and MountPoints', () => {
    const c = container({
      hc: { Binds: ['/var/run/docker.sock:/var/run/docker.sock:ro'] },
      mounts: [{ Source: '/var/run/docker.sock', Destination: '/var/run/docker.sock', RW: false }],
    });
    const fs = run(c);
    assert.equal(fs.length, 1, JSON.stringify(fs));
    assert.equal(fs[0]!.rule, 'docker-socket');
    assert.equal(fs[0]!.severity, 'high');
    // a socket somewhere else, bound under another name, is still found by its name
    const other = run(container({ hc: { Binds: ['/srv/chroot/run/containerd/containerd.sock:/c.sock'] } }));
    assert.equal(only(other, 'docker-socket').length, 1);
  });

  test('sensitive host paths: rw high, ro medium; / and /var/run stay high read-only (they hold the socket); others nothing', () => {
    const sev = (bind: string) => only(run(container({ hc: { Binds: [bind] } })), 'host-path').map((f) => f.severity);
    assert.deepEqual(sev('/etc:/host-etc'), ['high']);
    assert.deepEqual(sev('/etc:/host-etc:ro'), ['medium']);
    assert.deepEqual(sev('/root/.ssh:/keys:ro,z'), ['medium']);
    assert.deepEqual(sev('/proc:/hp'), ['high']);
    assert.deepEqual(sev('/var/lib/docker:/d:ro'), ['medium']);
    assert.deepEqual(sev('/:/host:ro'), ['high']);
    assert.deepEqual(sev('/var/run:/vr:ro'), ['high']);
    assert.deepEqual(sev('/srv/data:/data'), []);
    assert.deepEqual(sev('/etcetera:/x'), []);
    assert.deepEqual(sev('/var/lib/docker-data:/x'), []);
    assert.deepEqual(sev('/tmp/x/../../etc:/x'), ['high']);
    assert.deepEqual(sev('vol1:/etc'), [], 'a named volume is not a host path');
  });

  test('named volumes in MountPoints (under /var/lib/docker/volumes) are not host paths; HostConfig.Mounts binds are', () => {
    const c = container({
      mounts: [{ Type: 'volume', Name: 'vol1', Source: '/var/lib/docker/volumes/vol1/_data', Destination: '/vol', RW: true }],
      hc: { Mounts: [{ Type: 'bind', Source: '/etc', Target: '/e', ReadOnly: true }] },
    });
    const fs = run(c);
    assert.deepEqual(fs.map((f) => [f.rule, f.severity, f.field]), [['host-path', 'medium', 'Mounts[0]']]);
    assert.equal(bindMounts(c).length, 1);
  });

  test('host namespaces: PID high, network/IPC/user medium, UTS low; cgroupns host and container:<id> are not flagged', () => {
    const fs = run(container({ hc: { PidMode: 'host', NetworkMode: 'host', IpcMode: 'host', UTSMode: 'host', UsernsMode: 'host', CgroupnsMode: 'host' } }));
    assert.deepEqual(
      only(fs, 'host-namespace').map((f) => [f.field, f.severity]),
      [
        ['PidMode', 'high'],
        ['IpcMode', 'medium'],
        ['NetworkMode', 'medium'],
        ['UsernsMode', 'medium'],
        ['UTSMode', 'low'],
      ],
    );
    assert.deepEqual(run(container({ hc: { PidMode: 'container:abc', IpcMode: 'shareable' } })), []);
  });

  test('capabilities: escape caps high (with or without CAP_, any case), NET_ADMIN medium, default caps nothing', () => {
    const fs = run(container({ hc: { CapAdd: ['CAP_SYS_ADMIN', 'sys_ptrace', 'ALL', 'NET_ADMIN', 'CHOWN', 'NET_RAW', 'WAKE_ALARM', 'FOO'] } }));
    assert.deepEqual(
      only(fs, 'capability').map((f) => [f.title.replace('capability added: ', ''), f.severity]).sort(),
      [
        ['ALL', 'high'],
        ['FOO', 'low'],
        ['NET_ADMIN', 'medium'],
        ['SYS_ADMIN', 'high'],
        ['SYS_PTRACE', 'high'],
        ['WAKE_ALARM', 'medium'],
      ],
    );
  });

  test('security options: seccomp/apparmor/systempaths unconfined medium, label=disable low, old colon syntax, no-new-privileges nothing', () => {
    const fs = run(container({ hc: { SecurityOpt: ['seccomp=unconfined', 'apparmor:unconfined', 'systempaths=unconfined', 'label=disable', 'no-new-privileges:true', 'seccomp=/etc/profile.json'] } }));
    assert.deepEqual(
      fs.map((f) => [f.rule, f.severity]),
      [
        ['seccomp-unconfined', 'medium'],
        ['apparmor-unconfined', 'medium'],
        ['systempaths-unconfined', 'medium'],
        ['label-disabled', 'low'],
      ].sort((a, b) => (a[1] === b[1] ? 0 : a[1] === 'medium' ? -1 : 1)),
    );
  });

  test('devices: disks and memory high, other devices medium', () => {
    const fs = run(
      container({
        hc: {
          Devices: [
            { PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' },
            { PathOnHost: '/dev/mem', PathInContainer: '/dev/mem', CgroupPermissions: 'r' },
            { PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' },
          ],
        },
      }),
    );
    assert.deepEqual(only(fs, 'device').map((f) => f.severity), ['high', 'high', 'medium']);
  });

  test('T1610: image gone medium, image not restorable medium, untagged image low, tagged nothing', () => {
    const gone = run(container({ image: null }));
    assert.deepEqual(gone.map((f) => [f.rule, f.severity, f.technique]), [['image-gone', 'medium', 'T1610']]);
    assert.match(gone[0]!.title, /created from app:1/);
    assert.deepEqual(run(container({ image: image({ loadable: false }) })).map((f) => [f.rule, f.severity]), [['image-gone', 'medium']]);
    assert.deepEqual(run(container({ image: image({ tags: [] }) })).map((f) => [f.rule, f.severity]), [['untagged-image', 'low']]);
    assert.deepEqual(run(container({ image: null, imageRef: '' })), [], 'no image recorded at all is not "gone"');
  });

  test('restart policies always / unless-stopped: low T1543.005; on-failure and no: nothing', () => {
    for (const name of ['always', 'unless-stopped']) {
      const fs = run(container({ hc: { RestartPolicy: { Name: name, MaximumRetryCount: 0 } } }));
      assert.deepEqual(fs.map((f) => [f.rule, f.severity, f.technique]), [['restart-policy', 'low', 'T1543.005']]);
    }
    assert.deepEqual(run(container({ hc: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } } })), []);
  });

  test('ports: all interfaces low (medium for remote-admin/data services), loopback nothing, -P low', () => {
    const fs = run(
      container({
        hc: {
          PortBindings: {
            '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }],
            '81/tcp': [{ HostIp: '', HostPort: '' }],
            '82/tcp': [{ HostIp: '127.0.0.1', HostPort: '8082' }],
            '22/tcp': [{ HostIp: '::', HostPort: '2222' }],
          },
          PublishAllPorts: true,
        },
      }),
    );
    const ports = only(fs, 'published-port');
    assert.deepEqual(ports.map((f) => [f.field, f.severity]).sort(), [
      ['PortBindings["22/tcp"][0]', 'medium'],
      ['PortBindings["80/tcp"][0]', 'low'],
      ['PortBindings["81/tcp"][0]', 'low'],
      ['PublishAllPorts', 'low'],
    ]);
    assert.ok(ports.every((f) => f.technique === 'T1133'));
  });

  test('secret-looking env vars: medium T1552.001, masked unless showSecrets', () => {
    const env = ['AWS_SECRET_ACCESS_KEY=fakeSecret123', 'DB_PASSWORD=hunter2', 'GITHUB_TOKEN=x', 'PATH=/bin', 'PWD=/', 'GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D', 'POSTGRES_PASSWORD_FILE=/run/secrets/pw', 'NOTE=AKIAABCDEFGHIJKLMNOP', 'EMPTY_TOKEN='];
    const masked = audit(modelOf([container({ env })]));
    const fs = only(masked.findings, 'secret-env');
    assert.deepEqual(fs.map((f) => f.value.split('=')[0]).sort(), ['AWS_SECRET_ACCESS_KEY', 'DB_PASSWORD', 'GITHUB_TOKEN', 'NOTE']);
    assert.ok(fs.every((f) => f.severity === 'medium' && f.technique === 'T1552.001'));
    const text = JSON.stringify(masked);
    for (const secret of ['fakeSecret123', 'hunter2', 'AKIAABCDEFGHIJKLMNOP']) assert.ok(!text.includes(secret), `${secret} leaked`);
    assert.ok(text.includes(maskSecret('fakeSecret123')));
    assert.equal(masked.secretsShown, false);
    const shown = audit(modelOf([container({ env })]), { showSecrets: true });
    assert.ok(JSON.stringify(shown).includes('AWS_SECRET_ACCESS_KEY=fakeSecret123'));
    assert.equal(shown.secretsShown, true);
  });

  test('secretReason: names and values', () => {
    assert.ok(secretReason('MYSQL_ROOT_PASSWORD', 'x'));
    assert.ok(secretReason('api_key', 'x'));
    assert.ok(secretReason('STRIPE_APIKEY', 'x'));
    assert.ok(secretReason('X', 'postgres://user:pw@db/x'));
    assert.ok(secretReason('X', '-----BEGIN RSA PRIVATE KEY-----'));
    assert.equal(secretReason('KEYBOARD_LAYOUT', 'us'), undefined);
    assert.equal(secretReason('PUBLIC_KEY', 'ssh-ed25519 AAAA'), undefined);
    assert.equal(secretReason('SSH_KEY_PATH', '/root/.ssh/id'), undefined);
    assert.equal(secretReason('HOME', '/root'), undefined);
  });

  test('secrets in an image config are filed under the image; inherited container env is marked', () => {
    const img = image({ env: ['PATH=/bin', 'APP_SECRET=s3cr3t'] });
    const c = container({ image: img, env: ['PATH=/bin', 'APP_SECRET=s3cr3t'] });
    const r = audit(modelOf([c], [img]));
    const fs = only(r.findings, 'secret-env');
    assert.deepEqual(fs.map((f) => f.subject.kind).sort(), ['container', 'image']);
    assert.match(fs.find((f) => f.subject.kind === 'container')!.detail!, /inherited from the image/);
    assert.ok(!JSON.stringify(r).includes('s3cr3t'));
  });

  test('findings are sorted by severity and counted', () => {
    const r = audit(modelOf([container({ hc: { RestartPolicy: { Name: 'always' }, Privileged: true, NetworkMode: 'host' } })]));
    assert.deepEqual(r.findings.map((f) => f.severity), ['high', 'medium', 'low']);
    assert.deepEqual(r.counts, { high: 1, medium: 1, low: 1, info: 0 });
  });

  test('sensitiveHostPath', () => {
    assert.equal(sensitiveHostPath('/'), '/');
    assert.equal(sensitiveHostPath('/etc/shadow'), '/etc');
    assert.equal(sensitiveHostPath('/etc/kubernetes/pki'), '/etc/kubernetes');
    assert.equal(sensitiveHostPath('/var/'), '/var');
    assert.equal(sensitiveHostPath('/var/tmp'), undefined);
    assert.equal(sensitiveHostPath('/srv'), undefined);
    assert.equal(sensitiveHostPath('//etc//'), '/etc');
  });
});

describe('audit table', () => {
  test('names, paths and values from evidence are escaped', () => {
    const c = container({ name: 'evil\x1b[31m\nrow', hc: { Privileged: true, Binds: ['/etc/\x1b]0;pwn\x07:/x'] } });
    const out = auditTable(audit(modelOf([c])), makeStyle(false));
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(out), JSON.stringify(out));
    assert.match(out, /evil\\x1b\[31m\\nrow/);
    assert.match(out, /\\x1b\]0;pwn\\x07/);
    // one header, two findings, blank line, summary: no forged rows
    assert.equal(out.split('\n').length, 5);
  });

  test('an empty report says so', () => {
    assert.match(auditTable(audit(modelOf([container()])), makeStyle(false)), /^No findings in 1 containers/);
  });
});
