/**
 * Starts a real Elasticsearch node for local runs and tests, from the homes that
 * `tools/elasticsearch/setup.sh` assembles out of Maven Central jars (nothing here downloads).
 *
 * Two lines are available: 7.17 (the newest line whose reindex module — `_delete_by_query` — is on Maven
 * Central) and 8.19 (a real 8.x node without that module). See docs/connectors.md.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, toolPaths, type RunningServer } from './servers';

export type ElasticsearchMajor = 7 | 8;

export interface ElasticsearchServer extends RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly version: string;
  readonly major: ElasticsearchMajor;
  /** Whether this node serves `_delete_by_query` (its reindex module is present). */
  readonly hasReindex: boolean;
}

/** The ES_HOME of one line, from `.tools/paths.json`; fails loudly when setup has not assembled it. */
export function elasticsearchHome(major: ElasticsearchMajor): string {
  const root = toolPaths().elasticsearchHome;
  const homes = root ? path.join(root, 'homes.json') : '';
  if (!root || !fs.existsSync(homes)) {
    throw new Error('Elasticsearch is not set up (.tools/paths.json has no elasticsearchHome): run "npm run setup"');
  }
  const home = (JSON.parse(fs.readFileSync(homes, 'utf8')) as Record<string, string>)[String(major)];
  if (!home || !fs.existsSync(path.join(home, '.complete'))) {
    throw new Error(`Elasticsearch ${major}.x home is incomplete (${home}): run "npm run setup"`);
  }
  return home;
}

/**
 * Starts a single-node cluster on loopback with its own data folder.
 * @example const es = await startElasticsearch({ major: 7 }); ...; await es.stop();
 */
export async function startElasticsearch(
  opts: { major?: ElasticsearchMajor; dataDir?: string; port?: number; heapMb?: number } = {},
): Promise<ElasticsearchServer> {
  const major = opts.major ?? 7;
  const home = elasticsearchHome(major);
  const version = fs.readFileSync(path.join(home, 'VERSION'), 'utf8').trim();
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `erasure-es${major}-`));
  const port = opts.port ?? (await freePort());
  const transportPort = await freePort();
  const heap = `${opts.heapMb ?? 512}m`;
  const jvm = [`-Xms${heap}`, `-Xmx${heap}`, '-XX:+UseSerialGC', '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8'];
  // 8.x runs the server as named Java modules (as its own distribution does); 7.x from the class path.
  const launch =
    major === 8
      ? [...jvm, '--module-path', path.join(home, 'lib'), '--add-modules=ALL-MODULE-PATH', '-cp', path.join(home, 'launcher')]
      : [...jvm, '-cp', `${path.join(home, 'launcher')}${path.delimiter}${path.join(home, 'lib', '*')}`];
  const child = spawn('java', [...launch, 'launcher.EmbeddedNode', home, dataDir, String(port), String(transportPort)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (b: Buffer) => (output = (output + b.toString()).slice(-8000));
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await Promise.race([
      (async () => {
        const until = Date.now() + 90_000;
        for (;;) {
          const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`).catch(() => undefined);
          if (res?.ok) return;
          if (Date.now() > until) throw new Error(`Elasticsearch ${version} at ${url} never became ready:\n${output}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      })(),
      new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`Elasticsearch ${version} exited with ${code}:\n${output}`)))),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { process: child, url, version, major, hasReindex: fs.existsSync(path.join(home, 'modules', 'reindex')), stop };
}
