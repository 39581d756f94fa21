/**
 * JSON output of values of any depth (issue 7): V8 parses evidence JSON nested 10,000 deep, but
 * its JSON.stringify recurses and overflowed the stack on it (exit 70). jsonText/safeJson must
 * give the same text as JSON.stringify where that works, and exact, valid JSON where it does not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deepJson, jsonText, PRETTY_LEVELS, safeJson } from '../../src/render/escape.js';

function nest(depth: number, leaf: unknown = 'x', wrap: 'array' | 'object' | 'mixed' = 'array'): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = wrap === 'array' || (wrap === 'mixed' && i % 2) ? [v] : { k: v };
  return v;
}

/** Depth of a parsed value, without recursion. */
function depthOf(v: unknown): number {
  let d = 0;
  for (let x = v; typeof x === 'object' && x !== null; d++) x = Array.isArray(x) ? x[0] : (x as { k: unknown }).k;
  return d;
}

test('the explicit-stack serializer writes what JSON.stringify writes', () => {
  class WithToJSON {
    toJSON(key: string) {
      return { key, when: new Date(0) };
    }
  }
  const values: unknown[] = [
    null, true, false, 0, -0, 1.5e300, NaN, Infinity, 'a"b\\c\n\u0000\u2028\ud800', '',
    [], {}, [undefined, () => 1, Symbol('s'), null], { a: undefined, b: () => 1 }, { a: undefined }, { '': 1, 'k"ey': [1, [2, [3, {}]]] },
    { n: 12n, arr: [1n, { deep: [[[]]] }] }, new WithToJSON(), [new WithToJSON()], { d: new Date(86_400_000) },
    Object.assign(Object.create({ inherited: 1 }), { own: 2 }), [new Number(3), new String('s'), new Boolean(false)],
    { nested: { list: [{ a: 1, b: [true, false, null] }, 'x'], empty: { u: undefined } } }, Buffer.from('hi'),
  ];
  for (const v of values)
    for (const indent of [0, 2, 4]) {
      const native = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), indent);
      assert.equal(deepJson(v, indent), native, `indent ${indent}: ${String(native)}`);
      assert.equal(jsonText(v, indent), native);
    }
  assert.equal(deepJson(undefined, 2), undefined);
  assert.equal(safeJson(undefined), 'null');
  assert.equal(deepJson(nest(PRETTY_LEVELS - 1, 1, 'mixed'), 2), JSON.stringify(nest(PRETTY_LEVELS - 1, 1, 'mixed'), null, 2));
});

test('a cycle is refused as JSON.stringify refuses it', () => {
  const a: unknown[] = [];
  a.push([a]);
  assert.throws(() => deepJson(a, 0), TypeError);
  // the same object twice, not nested in itself, is no cycle
  const shared = { x: 1 };
  assert.equal(deepJson([shared, shared], 0), '[{"x":1},{"x":1}]');
});

test('a value nested 100,000 deep is written exactly, in bounded size, with no stack overflow', () => {
  for (const wrap of ['array', 'object', 'mixed'] as const) {
    const v = { Config: { Cmd: nest(100_000, 'sh\u001b[31m', wrap) }, after: 'still here' };
    assert.throws(() => JSON.stringify(v), RangeError, 'the native serializer overflows (otherwise this test proves nothing)');
    for (const indent of [0, 2]) {
      const text = safeJson(v, indent);
      assert.ok(text.length < 2_000_000, `indent ${indent}: ${text.length} characters`);
      const back = JSON.parse(text);
      assert.equal(back.after, 'still here');
      assert.equal(depthOf(back.Config.Cmd), 100_000);
      let leaf: unknown = back.Config.Cmd;
      while (typeof leaf === 'object' && leaf !== null) leaf = Array.isArray(leaf) ? leaf[0] : (leaf as { k: unknown }).k;
      assert.equal(leaf, 'sh\u001b[31m');
      assert.ok(!/[\u0000-\u001f]/.test(text.replace(/\n/g, '')));
    }
    // the shallow part is still pretty-printed as usual
    assert.ok(safeJson(v).startsWith('{\n  "Config": {\n    "Cmd": '));
  }
});
