import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createConfigWatcher } from '../../../src/config/watch.js';
import { eventually } from '../../support/eventually.js';

/** The watcher on a real directory: what counts as a change, and the ConfigMap symlink swap. */
async function watched(t: Test, layout: (dir: string) => Promise<string>) {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-watch-'));
  const configPath = await layout(dir);
  let changes = 0;
  let unchanged = 0;
  const errors: unknown[] = [];
  const watcher = await createConfigWatcher({
    configPath,
    policiesDir: () => join(dir, 'policies'),
    onChange: () => (changes += 1),
    onError: (error) => errors.push(error),
    onSettled: (changed) => (unchanged += changed ? 0 : 1),
    debounceMs: 50,
  });
  t.teardown(async () => {
    watcher.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, configPath, changes: () => changes, unchanged: () => unchanged, errors };
}

t.test('an edit of the config or a policy is a change; a touch or identical rewrite is not', async (t) => {
  const w = await watched(t, async (dir) => {
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'p.yaml'), 'name: p\n');
    await writeFile(join(dir, 'portcullis.yaml'), 'a: 1\n');
    return join(dir, 'portcullis.yaml');
  });
  await writeFile(w.configPath, 'a: 2\n');
  await eventually(() => w.changes() === 1);
  await writeFile(join(w.dir, 'policies', 'p.yaml'), 'name: p\nallow: []\n');
  await eventually(() => w.changes() === 2);
  // identical bytes and a touch: the watcher looks, and finds nothing to reload
  await writeFile(w.configPath, 'a: 2\n');
  await utimes(w.configPath, new Date(), new Date());
  await eventually(() => w.unchanged() >= 1);
  t.equal(w.changes(), 2, 'the identical rewrite and the touch did not count');
  t.same(w.errors, []);
});

t.test('a ConfigMap update (a new ..data symlink renamed over the old one) is a change, twice', async (t) => {
  const generation = async (dir: string, name: string, text: string) => {
    await mkdir(join(dir, name, 'policies'), { recursive: true });
    await writeFile(join(dir, name, 'portcullis.yaml'), text);
    await writeFile(join(dir, name, 'policies', 'p.yaml'), `name: ${name}\n`);
  };
  const swap = async (dir: string, name: string) => {
    await symlink(name, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  const w = await watched(t, async (dir) => {
    await generation(dir, '..2026_a', 'a: 1\n');
    await swap(dir, '..2026_a');
    await symlink('..data/portcullis.yaml', join(dir, 'portcullis.yaml'));
    await symlink('..data/policies', join(dir, 'policies'));
    return join(dir, 'portcullis.yaml');
  });
  await generation(w.dir, '..2026_b', 'a: 1\n');
  await swap(w.dir, '..2026_b');
  await rm(join(w.dir, '..2026_a'), { recursive: true });
  await eventually(() => w.changes() === 1);
  await generation(w.dir, '..2026_c', 'a: 3\n');
  await swap(w.dir, '..2026_c');
  await rm(join(w.dir, '..2026_b'), { recursive: true });
  await eventually(() => w.changes() === 2);
  t.pass('both swaps seen');
});
