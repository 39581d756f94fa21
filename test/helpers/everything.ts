import { findLayer, chainReport } from '../../src/analysis/chain.js';
import { imageHistory, inspectContainer, inspectImage, listContainers, listImages } from '../../src/analysis/inspect.js';
import { mountReport } from '../../src/analysis/mounts.js';
import { findOrphans } from '../../src/analysis/orphans.js';
import { choosePathMap } from '../../src/analysis/paths.js';
import { verify } from '../../src/analysis/verify.js';
import { buildModel, type Model } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import { containerText } from '../../src/render/container.js';
import { safeJson } from '../../src/render/escape.js';
import { makeStyle } from '../../src/render/style.js';
import { verifyText } from '../../src/render/verify.js';
import { chainText, findingsText, historyTable, imageText, imagesTable, mountsText } from '../../src/render/views.js';
import { Findings } from '../../src/store/findings.js';
import { detectLayout } from '../../src/store/layout.js';

/**
 * Runs every answer dockscope gives over one piece of evidence, in-process, and returns all the
 * human output and all the JSON it would print: what hostile-evidence tests inspect.
 */
export async function everything(spec: string): Promise<{ human: string; json: string[]; model: Model }> {
  const ev = await openEvidence(spec);
  const model = buildModel(ev.root);
  const paths = choosePathMap(ev, model);
  const s = makeStyle(false);
  const human: string[] = [];
  const json: unknown[] = [];
  detectLayout(ev.root, new Findings());
  const imgs = listImages(model, true);
  human.push(imagesTable(imgs, { digests: true, noTrunc: false }));
  json.push(imgs);
  for (const img of model.images.values()) {
    const inspect = inspectImage(model, img, paths);
    const history = imageHistory(model, img);
    human.push(imageText({ inspect, history }, s), historyTable(history, true));
    json.push(inspect, history);
    for (const l of img.layers.slice(0, 50)) {
      for (const m of [l.chainID, l.diffID]) {
        try {
          const matches = findLayer(model, m);
          const chains = [...new Set(matches.flatMap((x) => (x.chainID ? [x.chainID] : [])))];
          for (const c of chains.slice(0, 3)) {
            const r = chainReport(model, m, c, matches, paths);
            human.push(chainText(r, s));
            json.push(r);
          }
        } catch (e) {
          if ((e as Error).name !== 'ResolveError') throw e;
        }
      }
    }
  }
  const ctrs = listContainers(model, true, paths);
  json.push(ctrs);
  for (const c of model.containers.values()) {
    const inspect = inspectContainer(model, c, paths);
    const mounts = mountReport(model, c, paths);
    human.push(containerText(inspect, mounts, s), mountsText(mounts, s));
    json.push(inspect, mounts);
  }
  const images = [...model.images.values()].filter((i) => i.loadable || i.record.computedId !== i.id);
  const report = await verify(model, images);
  human.push(verifyText(report, s));
  json.push(report.images, report.layers);
  const { orphans } = findOrphans(model, paths);
  json.push(orphans);
  human.push(findingsText(model.findings.list, s, Infinity));
  json.push(model.findings.list);
  return { human: human.join('\n'), json: json.map((j) => safeJson(j)), model };
}
