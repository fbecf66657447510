// The tuning cache's storage in a browser: the Cache API entry is written, read back and replaced.
// (Node's file in the cache folder is covered by tests/kernels/tune.node.test.ts.)
import { describe, expect, it } from 'vitest';
import { inNode } from '../../src/io/host.ts';
import { tuneStore } from '../../src/io/tune-store.ts';

describe('tuning cache storage', () => {
  it.skipIf(inNode)('browser: a Cache API entry per identity, read back, replaced by the next save (Node: tests/kernels/tune.node.test.ts)', async () => {
    const name = `test-${Date.now()}`;
    const store = tuneStore(name);
    expect(store.where).toMatch(/^Cache API 'graft-tuning-v1' https:\/\/graft-webgpu\.invalid\/tuning\/test-\d+\.json$/);
    expect(await store.load()).toBe(null);
    await store.save('{"a": 1}');
    expect(await store.load()).toBe('{"a": 1}');
    await store.save('{"a": 2}');
    expect(await tuneStore(name).load()).toBe('{"a": 2}');
    expect(await tuneStore(`${name}-other`).load()).toBe(null);
    await (await caches.open('graft-tuning-v1')).delete(`https://graft-webgpu.invalid/tuning/${name}.json`);
  });
});
