/**
 * The fuzz watchdog's hang rule: judged on the child's CPU time, so an input that is merely slow on a
 * loaded machine is not a hang, while one that never finishes without computing is caught by wall time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { cpuMsOfStat, hangOf } from './pool.js';

test('hang rule: CPU over the bound is a hang; slow wall time under load is not, until ten times the bound', () => {
  assert.equal(hangOf(2999, 2999, 3000), undefined);
  assert.equal(hangOf(3001, 3001, 3000), '3001 ms of CPU');
  // Loaded machine: 20 s of wall for 1 s of CPU is a slow input, not a hang.
  assert.equal(hangOf(1000, 20_000, 3000), undefined);
  // A promise that never settles: no CPU, but wall past ten times the bound.
  assert.equal(hangOf(5, 30_001, 3000), '30001 ms without finishing');
  // Without /proc, wall time stands in for CPU.
  assert.equal(hangOf(undefined, 3001, 3000), '3001 ms of CPU');
});

test('CPU time from /proc/<pid>/stat: fields counted after the last ), whatever the command name holds', () => {
  const rest = 'S 1 2 3 4 5 6 7 8 9 10 250 130 0 0 20 0 1 0';
  assert.equal(cpuMsOfStat(`4242 (node) ${rest}`), 3800);
  assert.equal(cpuMsOfStat(`4242 (a) b (c) d) ${rest}`), 3800);
  assert.equal(cpuMsOfStat('garbage'), undefined);
  const own = cpuMsOfStat(fs.readFileSync('/proc/self/stat', 'utf8'));
  assert.ok(own !== undefined && own >= 0);
});
