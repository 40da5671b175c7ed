/**
 * Starts a real Apache Kafka broker for local runs and tests, from the home that `tools/kafka/setup.sh`
 * assembles out of Maven Central jars (nothing here downloads).
 *
 * One JVM plays both KRaft roles (broker and controller, node id 1), so there is no ZooKeeper and no second
 * process. The data folder keeps the metadata log and the topics' logs: starting again on the same folder
 * finds every topic, message and committed offset where the last run left them.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { freePort, toolPaths, type RunningServer } from './servers';

const execFileAsync = promisify(execFile);

export interface KafkaServer extends RunningServer {
  /** The bootstrap address clients connect to, e.g. `127.0.0.1:9092`. */
  readonly bootstrap: string;
  readonly port: number;
  /** Kafka's version, e.g. `4.1.1`. */
  readonly version: string;
  readonly dataDir: string;
  /** The broker's own log (stdout and stderr), appended to on every start. */
  readonly logFile: string;
  /** Milliseconds from spawning the JVM to the first answered metadata request. */
  readonly startMs: number;
}

export interface StartKafkaOptions {
  /** Client port; a free one when unset. */
  port?: number;
  /** Keeps the broker's state; a fresh temporary folder when unset. */
  dataDir?: string;
  /** Largest heap of the JVM in MiB (default 512; it starts at half of it). */
  heapMb?: number;
  /** How long to wait for the broker to answer (default 90 s). */
  timeoutMs?: number;
}

/** The Kafka home of `.tools/paths.json`; fails loudly when setup has not assembled it. */
export function kafkaHome(): string {
  const home = toolPaths().kafkaHome;
  if (!home) throw new Error('Kafka is not set up (.tools/paths.json has no kafkaHome): run "npm run setup"');
  if (!fs.existsSync(path.join(home, '.complete'))) throw new Error(`the Kafka home ${home} is incomplete: run "npm run setup"`);
  return home;
}

/**
 * A cluster id as Kafka's `Uuid.randomUuid()` makes one: 16 random bytes, base64url without padding, never
 * starting with "-" (the storage tool would read that as an option).
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * The broker's configuration, written again on every start because the ports may change. The quorum is
 * static (`controller.quorum.voters`): its one voter's address comes from this file each time, whereas a
 * dynamic quorum (`--standalone`) records the controller's address in the formatted storage and would not
 * start again on another controller port.
 */
function serverProperties(o: { port: number; controllerPort: number; logDir: string }): string {
  const lines: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${o.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${o.port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': o.logDir,
    // One node: every internal topic has a single replica, and few partitions so that it is created fast.
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // A group forms as soon as its first member joins, instead of waiting 3 s for more.
    'group.initial.rebalance.delay.ms': 0,
    'num.partitions': 1,
    // The engine creates its topics itself, with their partition counts (src/events/kafka-client.ts
    // ensureTopics). Auto-creation would turn a misspelt topic name into a silent new one-partition topic.
    'auto.create.topics.enable': false,
    // Two cores: fewer threads than the defaults (3 network, 8 I/O) are plenty for one local client.
    'num.network.threads': 2,
    'num.io.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
  };
  return Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/**
 * Starts a single-node KRaft cluster on loopback, formatting its storage on first use of `dataDir`.
 * Resolves once the broker answers a metadata request; rejects with the tail of its log when it exits first
 * or does not answer within `timeoutMs`.
 * @example const kafka = await startKafka({ dataDir: '.data/kafka', port: 9092 }); ...; await kafka.stop();
 */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaServer> {
  const home = kafkaHome();
  const version = fs.readFileSync(path.join(home, 'VERSION'), 'utf8').trim();
  const dataDir = path.resolve(opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'erasure-kafka-')));
  const logDir = path.join(dataDir, 'log');
  const propsFile = path.join(dataDir, 'server.properties');
  const logFile = path.join(dataDir, 'kafka.log');
  fs.mkdirSync(dataDir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const controllerPort = await freePort();
  fs.writeFileSync(propsFile, serverProperties({ port, controllerPort, logDir }));
  const classpath = path.join(home, 'lib', '*');
  const heapMb = opts.heapMb ?? 512;
  // C1 only (TieredStopAtLevel=1): C2 compiling the broker at start-up costs seconds of CPU on two cores,
  // while a local broker's load never needs its faster code. It halves the time to the first answer.
  const jvm = [
    `-Xms${Math.floor(heapMb / 2)}m`, `-Xmx${heapMb}m`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true', `-Dlog4j2.configurationFile=${path.join(home, 'config', 'log4j2.properties')}`,
  ];

  if (!fs.existsSync(path.join(logDir, 'meta.properties'))) {
    try {
      await execFileAsync('java', [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propsFile], { timeout: 60_000 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`Kafka ${version}: formatting ${logDir} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`.trimEnd());
    }
  }

  const log = fs.createWriteStream(logFile, { flags: 'a' });
  const started = Date.now();
  const child = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', propsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const onData = (b: Buffer) => {
    log.write(b);
    tail = (tail + b.toString()).slice(-6000);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => log.end());
  const bootstrap = `127.0.0.1:${port}`;

  // A clean shutdown flushes the logs and writes the clean-shutdown marker, so the next start skips recovery.
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };

  const timeoutMs = opts.timeoutMs ?? 90_000;
  try {
    await Promise.race([
      waitForBroker(bootstrap, timeoutMs, () => child.exitCode !== null || child.signalCode !== null).catch((err: Error) => {
        throw new Error(`Kafka ${version} at ${bootstrap} did not answer (${err.message}); log ${logFile} ends:\n${tail}`);
      }),
      exited.then(() => {
        throw new Error(`Kafka ${version} exited with ${child.exitCode ?? child.signalCode} before answering; log ${logFile} ends:\n${tail}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { process: child, bootstrap, port, version, dataDir, logFile, startMs: Date.now() - started, stop };
}

/**
 * Resolves once a metadata request lists at least one broker: the broker then serves produce and fetch.
 * Gives up once `exited()` says the process is gone (the caller reports the exit with the broker's log).
 */
async function waitForBroker(bootstrap: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    let admin: Admin | undefined;
    try {
      admin = new Admin({ clientId: 'erasure-dev-readiness', bootstrapBrokers: [bootstrap], retries: 0, connectTimeout: 1000, timeout: 2000 });
      const metadata = await admin.metadata({ topics: [] });
      if (metadata.brokers.size > 0) return;
      last = 'metadata listed no broker';
    } catch (err) {
      last = (err as Error).message;
    } finally {
      await admin?.close().catch(() => undefined);
    }
    if (exited()) throw new Error('the broker process exited');
    if (Date.now() > until) throw new Error(`no answer within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
