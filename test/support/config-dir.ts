import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A config for a gateway run as its own process: a temporary directory with `portcullis.yaml`
 * (the given lines) and a policies/ folder holding `everyone` (any signed-in user). Resolves with
 * the config file and a `remove` for teardown.
 */
export async function writeConfigDir(prefix: string, lines: readonly string[]): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await mkdir(join(dir, 'policies'));
  await writeFile(join(dir, 'policies', 'everyone.yaml'), 'name: everyone\nallow:\n  - authenticated: true\n');
  const file = join(dir, 'portcullis.yaml');
  await writeFile(file, lines.join('\n'));
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}
