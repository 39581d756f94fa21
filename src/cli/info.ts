import type { Argv } from 'yargs';
import { containerdSummary } from '../analysis/containerd.js';
import { stateString } from '../analysis/inspect.js';
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
    const layout = detectLayout(ev.root, lf);
    model.findings.list.push(...lf.list);
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
    for (const it of layout.items) print(`  ${it.path.padEnd(28)} ${it.description}`);
    print('\n' + s.bold('Contents'));
    for (const st of info.Stores)
      print(`  ${st.ImageRoot}${st.Legacy ? ` (pre-1.10, ${st.Driver})` : ''}: ${st.Images} images, ${st.Layers} layers, ${st.Mounts} container mounts, ${st.References} references${st.RemovingDirs ? `, ${st.RemovingDirs} -removing dirs` : ''}${st.WriteSets ? `, ${st.WriteSets} leftover write-sets` : ''}`);
    for (const c of info.Containerd)
      print(
        `  containerd ${c.Root} (${c.Found}), namespace ${c.Namespace}, snapshotter ${c.Snapshotter}: ${c.Images} images (${c.ImageRecords} records), ${c.Blobs} content blobs, ${c.Snapshots} snapshots (${c.Layers} layers), ${c.Leases} leases, ${c.Containers} containers${c.Ingests ? `, ${c.Ingests} partial downloads` : ''}`,
      );
    if (model.migration.size) print(`  migrated 1.9 → 1.10+: ${model.migration.size} v1 images mapped to new IDs (.migration-v1-images.json; \`image <v1ID>\` shows MigratedTo)`);
    print(`  images: ${info.Images.Total} (${info.Images.Restorable} restorable by Docker, ${info.Images.Tagged} tagged)`);
    print(`  containers: ${info.Containers.Total} (${Object.entries(states).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'})${drivers.length ? `; drivers: ${drivers.join(', ')}` : ''}`);
    print('\n' + s.bold('Findings') + `: ${sev.error} errors, ${sev.warn} warnings, ${sev.info} info`);
    const shown = argv.verbose ? model.findings.list : model.findings.list.filter((f) => f.severity !== 'info');
    if (shown.length) print(findingsText(shown, s, argv.verbose ? Infinity : 20));
    return answeredStatus(ctx);
  });
