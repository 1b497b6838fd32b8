import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

export interface ConfigWatcherOptions {
  /** the config file as given (it may be a symlink, as in a Kubernetes ConfigMap mount) */
  configPath: string;
  /** the policies directory, read for the fingerprint and watched; may be re-pointed by a symlink swap */
  policiesDir: () => string;
  /** called once per settled burst of changes whose content differs from the last one seen */
  onChange: () => void;
  /** problems of the watch itself (never of the config): logged by the caller */
  onError: (error: unknown) => void;
  debounceMs?: number;
  /** after each settled burst, whether its content differed (lets a test see "nothing changed") */
  onSettled?: (changed: boolean) => void;
}

export interface ConfigWatcher {
  close(): void;
}

const POLICY_FILE = /\.ya?ml$/i;

/**
 * Watches the config file's directory and the policies directory (node:fs watch, no polling).
 * A ConfigMap update writes nothing in place: the kubelet renames a new `..data` symlink over the
 * old one, so the watch is on directories (which see the rename), every burst re-opens the
 * policies watch (its target may have moved), and a content fingerprint decides whether anything
 * really changed, so a touched-but-identical file does not rebuild the runtime.
 */
export async function createConfigWatcher(options: ConfigWatcherOptions): Promise<ConfigWatcher> {
  const configPath = resolve(options.configPath);
  const debounceMs = options.debounceMs ?? 250;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let policiesWatcher: FSWatcher | undefined;
  let lastFingerprint = await fingerprint(configPath, options.policiesDir());

  const schedule = () => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void settle(), debounceMs);
  };

  function open(dir: string, quietIfMissing = false): FSWatcher | undefined {
    try {
      const watcher = watch(dir, { persistent: false }, schedule);
      // a watched directory that disappears (an old ConfigMap generation) is not a fatal error
      watcher.on('error', () => watcher.close());
      return watcher;
    } catch (error) {
      // a policies directory that does not exist yet is the loader's to report
      if (!(quietIfMissing && (error as NodeJS.ErrnoException).code === 'ENOENT')) options.onError(error);
      return undefined;
    }
  }

  function watchPolicies(): void {
    policiesWatcher?.close();
    policiesWatcher = open(options.policiesDir(), true);
  }

  async function settle(): Promise<void> {
    if (closed) return;
    watchPolicies();
    try {
      const current = await fingerprint(configPath, options.policiesDir());
      if (closed) return;
      const changed = current !== lastFingerprint;
      lastFingerprint = current;
      if (changed) options.onChange();
      options.onSettled?.(changed);
    } catch (error) {
      options.onError(error);
    }
  }

  const configDirWatcher = open(dirname(configPath));
  watchPolicies();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      configDirWatcher?.close();
      policiesWatcher?.close();
    },
  };
}

/** sha-256 over the config text and every policy file's name and text (a missing file counts as empty) */
async function fingerprint(configPath: string, policiesDir: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await readOrEmpty(configPath));
  let names: string[] = [];
  try {
    names = (await readdir(policiesDir)).filter((name) => POLICY_FILE.test(name) && !name.startsWith('.')).sort();
  } catch {
    // a missing policies directory is the loader's to report
  }
  for (const name of names) hash.update(`\0${name}\0`).update(await readOrEmpty(join(policiesDir, name)));
  return hash.digest('hex');
}

async function readOrEmpty(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    return Buffer.alloc(0);
  }
}
