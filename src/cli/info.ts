import type { Argv } from 'yargs';
import { driverStorage } from '../analysis/drivers.js';
import { containerdSummary } from '../analysis/containerd.js';
import { stateString } from '../analysis/inspect.js';
import { escapeText as e } from '../render/escape.js';
import { humanSize } from '../render/format.js';
import { detectLayout } from '../store/layout.js';
import { Findings } from '../store/findings.js';
import { findingsText } from '../render/views.js';
import { fields } from '../render/table.js';
import { answeredStatus, loadContext, print, printJson, run, type GlobalArgs } from './context.js';

export const command = 'info';
export const describe = 'What the evidence holds: data root, layouts and drivers, counts, inferred original path, findings';
export const builder = (y: Argv<GlobalArgs>) => y.option('verbose', { alias: 'v', type: 'boolean', describe: 'list every finding' });

export const handler = (argv: GlobalArgs & { verbose?: boolean }) =>
  run(async () => {
    const ctx = await loadContext(argv);
    const { model, ev, paths } = ctx;
    const lf = new Findings();
    const layout = detectLayout(ev.root, lf, ev.rootPath);
    const storageFindings = new Findings();
    const storage = driverStorage(model, storageFindings);
    model.findings.list.push(...lf.list, ...storageFindings.list);
    const states: Record<string, number> = {};
    for (const c of model.containers.values()) states[stateString(c)] = (states[stateString(c)] ?? 0) + 1;
    const drivers = [...new Set([...model.containers.values()].map((c) => c.record.driver))];
    const sev = { error: 0, warn: 0, info: 0 };
    for (const f of model.findings.list) sev[f.severity]++;
    const images = [...model.images.values()];
    const info = {
      Evidence: ev.spec,
      EvidenceKind: ev.top.kind,
      DataRoot: ev.rootPath || '.',
      PathsShownUnder: paths.root,
      PathsHow: paths.how,
      EngineID: layout.engineId ?? null,
      Layout: layout.items,
      Stores: model.stores.map((s) => ({
        Driver: s.driver,
        Name: s.name,
        ImageRoot: s.imageRoot,
        Legacy: s.legacy !== undefined,
        Images: images.filter((i) => i.store === s).length,
        Layers: s.layerdb.layers.size,
        Mounts: s.layerdb.mounts.size,
        RemovingDirs: s.layerdb.removing.length,
        WriteSets: s.layerdb.writeSets.length,
        References: s.repositories.length,
      })),
      DriverStorage: storage,
      Linkgraph: model.linkgraph ? { Size: model.linkgraph.size, Names: model.linkgraph.names.size, Links: model.linkgraph.links.length } : null,
      Containerd: model.containerdStores.map((s) => containerdSummary(model, s, paths)),
      Migration: model.migration.size ? Object.fromEntries(model.migration) : null,
      Images: { Total: images.length, Restorable: images.filter((i) => i.loadable).length, Tagged: images.filter((i) => i.repoTags.length > 0).length },
      Containers: { Total: model.containers.size, States: states, Drivers: drivers },
      Findings: { Errors: sev.error, Warnings: sev.warn, Info: sev.info, List: model.findings.list },
    };
    if (ctx.json) {
      printJson(info);
      return answeredStatus(ctx);
    }
    const s = ctx.style;
    print(
      fields([
        ['Evidence', `${ev.spec} (${ev.top.kind === 'tar' ? 'archive, read in place' : 'directory'})`],
        ['Data root', ev.rootPath ? `${ev.rootPath}/ inside the evidence` : 'the evidence top'],
        ['Paths shown under', `${paths.root} (${paths.how === 'inferred' ? 'original data root, inferred from container paths' : paths.how === 'default' ? 'default; nothing in the evidence says otherwise' : paths.how === 'as-root' ? '--as-root' : 'where the evidence is'})`],
        ['Engine ID', layout.engineId],
      ]),
    );
    print('\n' + s.bold('Layout'));
    for (const it of layout.items) print(`  ${e(it.path).padEnd(28)} ${e(it.description)}`);
    print('\n' + s.bold('Contents'));
    for (const st of info.Stores)
      print(`  ${e(st.ImageRoot)}${st.Legacy ? ` (pre-1.10, ${e(st.Driver)})` : ''}: ${st.Images} images, ${st.Layers} layers, ${st.Mounts} container mounts, ${st.References} references${st.RemovingDirs ? `, ${st.RemovingDirs} -removing dirs` : ''}${st.WriteSets ? `, ${st.WriteSets} leftover write-sets` : ''}`);
    for (const c of info.Containerd)
      print(
        `  containerd ${e(c.Root)} (${e(c.Found)}), namespace ${e(c.Namespace)}, snapshotter ${e(c.Snapshotter)}: ${c.Images} images (${c.ImageRecords} records), ${c.Blobs} content blobs, ${c.Snapshots} snapshots (${c.Layers} layers), ${c.Leases} leases, ${c.Containers} containers${c.Ingests ? `, ${c.Ingests} partial downloads` : ''}`,
      );
    if (model.migration.size) print(`  migrated 1.9 → 1.10+: ${model.migration.size} v1 images mapped to new IDs (.migration-v1-images.json; \`image <v1ID>\` shows MigratedTo)`);
    if (model.linkgraph)
      print(`  linkgraph.db (pre-1.10, SQLite, ${model.linkgraph.size} bytes): ${model.linkgraph.names.size} container names, ${model.linkgraph.links.length} links${model.findings.list.some((x) => x.code === 'linkgraph.not-parsed') ? ' (not parsed: too large)' : ''}`);
    print(`  images: ${info.Images.Total} (${info.Images.Restorable} restorable by Docker, ${info.Images.Tagged} tagged)`);
    print(`  containers: ${info.Containers.Total} (${Object.entries(states).map(([k, v]) => `${v} ${e(k)}`).join(', ') || 'none'})${drivers.length ? `; drivers: ${drivers.map((d) => e(String(d))).join(', ')}` : ''}`);
    for (const d of storage) {
      print('\n' + s.bold(`${d.driver} storage`) + ` (${d.devices?.length ?? d.datasets?.length ?? 0} ${d.devices ? 'devices' : 'datasets'} in the metadata)`);
      print(`  ${d.note}`);
      const dm = d.devicemapper;
      if (dm?.deviceset) print(`  deviceset-metadata: next_device_id ${dm.deviceset.nextDeviceId ?? '-'}, base filesystem ${e(dm.deviceset.baseDeviceFilesystem ?? '-')}, base UUID ${e(dm.deviceset.baseDeviceUUID ?? '-')}`);
      if (dm?.transaction) print(`  transaction-metadata: open_transaction_id ${dm.transaction.openTransactionId ?? '-'}, device_id ${dm.transaction.deviceId ?? '-'}`);
      for (const l of dm?.loopback ?? []) print(`  loopback ${l.name}: ${humanSize(l.size)} apparent size`);
      for (const x of d.devices ?? [])
        print(`  device ${String(x.deviceId ?? '?').padStart(5)}  ${e(x.id.slice(0, 20)).padEnd(20)} ${x.size === undefined ? '-' : humanSize(x.size)}  txn ${x.transactionId ?? '-'}${x.initialized === false ? '  not initialized' : ''}${x.deleted ? '  DELETED' : ''}  ${e(x.owner)}`);
      for (const x of d.datasets ?? []) print(`  dataset …/${e(x.cacheID)}${x.mountedDir ? '  (zfs/graph mount point present)' : ''}  ${e(x.owner)}`);
    }
    print('\n' + s.bold('Findings') + `: ${sev.error} errors, ${sev.warn} warnings, ${sev.info} info`);
    const shown = argv.verbose ? model.findings.list : model.findings.list.filter((f) => f.severity !== 'info');
    if (shown.length) print(findingsText(shown, s, argv.verbose ? Infinity : 20));
    return answeredStatus(ctx);
  });
