/**
 * `distribution/` is read when first asked for. When only the findings list asked (as `info`
 * does), its maps are not kept; asked for afterwards, they are read again without repeating the
 * findings. Both orders must give the same maps and the same findings, each once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadModel } from '../../src/model/graph.js';
import { openEvidence } from '../../src/source/open.js';
import { listFixtures } from '../helpers/fixtures.js';
import { variant } from '../helpers/variant.js';

const fixture = listFixtures((n) => n === 'overlay2-20.10')[0];

test('distribution/: the same maps and findings whether findings or maps are asked for first', { skip: !fixture && 'no overlay2-20.10 fixture' }, async () => {
  let broken = '';
  // One v2metadata file that does not parse: a finding from reading distribution/.
  const archive = await variant(fixture!.archive, (name) => {
    if (!broken && /distribution\/v2metadata-by-diffid\/sha256\/[0-9a-f]{64}$/.test(name)) {
      broken = name;
      return { body: Buffer.from('{not json') };
    }
    return undefined;
  });
  assert.ok(broken, 'the fixture has v2metadata files');

  const mapsFirst = await loadModel(await openEvidence(archive));
  const maps = mapsFirst.stores[0]!.distribution;
  const findingsAfterMaps = mapsFirst.findings.list.map((f) => `${f.code} ${f.message}`);

  const findingsFirst = await loadModel(await openEvidence(archive));
  const findings = findingsFirst.findings.list.map((f) => `${f.code} ${f.message}`);
  const distFindings = findings.filter((f) => f.startsWith('distribution.bad-json '));
  assert.equal(distFindings.length, 1, findings.join('\n'));
  // Now the maps, read again after the findings were placed: nothing new in the list.
  const again = findingsFirst.stores[0]!.distribution;
  assert.deepEqual(findingsFirst.findings.list.map((f) => `${f.code} ${f.message}`), findings);
  assert.deepEqual(findings, findingsAfterMaps);
  assert.ok(maps.byDiffID.size > 0);
  assert.deepEqual([...again.byDiffID].sort(), [...maps.byDiffID].sort());
});
