/**
 * Docker's API answers are Go structs marshalled to JSON: every field present, zero values as
 * "", false or null, `omitempty` fields left out when empty. Image configs on disk carry only
 * what their writer set, so to answer exactly what the engine answered we re-shape them.
 */
type Kind = 'string' | 'bool' | 'nullable' | 'number';
type Field = [name: string, kind: Kind, omitempty: boolean];

/** api/types/container.Config (identical in 20.10 and 26.1). */
const CONTAINER_CONFIG: Field[] = [
  ['Hostname', 'string', false],
  ['Domainname', 'string', false],
  ['User', 'string', false],
  ['AttachStdin', 'bool', false],
  ['AttachStdout', 'bool', false],
  ['AttachStderr', 'bool', false],
  ['ExposedPorts', 'nullable', true],
  ['Tty', 'bool', false],
  ['OpenStdin', 'bool', false],
  ['StdinOnce', 'bool', false],
  ['Env', 'nullable', false],
  ['Cmd', 'nullable', false],
  ['Healthcheck', 'nullable', true],
  ['ArgsEscaped', 'bool', true],
  ['Image', 'string', false],
  ['Volumes', 'nullable', false],
  ['WorkingDir', 'string', false],
  ['Entrypoint', 'nullable', false],
  ['NetworkDisabled', 'bool', true],
  ['MacAddress', 'string', true],
  ['OnBuild', 'nullable', false],
  ['Labels', 'nullable', false],
  ['StopSignal', 'string', true],
  ['StopTimeout', 'nullable', true],
  ['Shell', 'nullable', true],
];

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  // A present object is a non-nil pointer (Healthcheck {}): Go keeps it.
  return false;
}

function zero(kind: Kind): unknown {
  return kind === 'string' ? '' : kind === 'bool' ? false : kind === 'number' ? 0 : null;
}

function shape(fields: Field[], src: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, kind, omitempty] of fields) {
    let v = src[name];
    // Go's StrSlice accepts a bare string for Cmd/Entrypoint/Shell and marshals it as a list.
    if ((name === 'Cmd' || name === 'Entrypoint' || name === 'Shell') && typeof v === 'string') v = [v];
    // An empty JSON object for a map-typed omitempty field (ExposedPorts {}) is omitted by Go.
    const emptyMap = kind === 'nullable' && name === 'ExposedPorts' && typeof v === 'object' && v !== null && Object.keys(v).length === 0;
    if (omitempty && (isEmpty(v) || emptyMap)) continue;
    out[name] = v === undefined ? zero(kind) : v;
  }
  return out;
}

/** container.Config as the engine would marshal it; null stays null (a nil *Config). */
export function goContainerConfig(v: Record<string, unknown> | undefined | null): Record<string, unknown> | null {
  return v ? shape(CONTAINER_CONFIG, v) : null;
}

/** A zero container.Config, as image inspect prints ContainerConfig for images that have none. */
export function goZeroContainerConfig(): Record<string, unknown> {
  return shape(CONTAINER_CONFIG, {});
}
