/**
 * Prebuilt workflow code. A worker given `workflowsPath` bundles the workflow sources with webpack on every
 * start (seconds of CPU); a worker given a prebuilt bundle (`WORKFLOW_BUNDLE`) starts polling sooner, which
 * matters when an orchestrator restarts it after a crash. `npx erasure bundle-workflows` writes the bundle.
 *
 * The bundle's first line records a digest of the sources it was built from. A worker refuses a bundle whose
 * sources have changed since, because it would run old workflow code against new histories.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath } from '../codec/data-converter';

/** The module whose exports are the engine's workflows. */
export const workflowsPath = require.resolve('../workflows');

const digestLine = /^\/\/ erasure-engine workflow sources sha256:([0-9a-f]{64})\n/;

/** Raised for a bundle file that is missing, not ours, or built from other sources. */
export class WorkflowBundleError extends Error {
  override readonly name = 'WorkflowBundleError';
}

/** Module specifiers a source imports or re-exports at run time (`import type` is erased and goes nowhere). */
function runtimeSpecifiers(source: string): string[] {
  const statements = source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gm);
  return [...new Set([...statements].map(([, spec]) => spec))];
}

const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

/**
 * The project's own files that `entries` pull into the bundle (followed through relative imports, so the
 * domain model the workflow imports counts too) and the packages they import.
 */
function bundledSources(entries: string[]): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of runtimeSpecifiers(fs.readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) visit(require.resolve(path.resolve(path.dirname(file), spec)));
      else if (!spec.startsWith('node:')) packages.add(packageOf(spec));
    }
  };
  entries.forEach(visit);
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/**
 * SHA-256 over everything that goes into the bundle and can change with this project: the workflow sources
 * and every project file they import at run time, the failure converter, and the installed version of every
 * package they import (the workflow SDK, zod, ...), since webpack copies those into the bundle too.
 */
export function workflowSourcesDigest(): string {
  const hash = createHash('sha256');
  const root = path.resolve(path.dirname(workflowsPath), '..');
  const dir = path.dirname(workflowsPath);
  // Every file of the workflows folder, imported or not, and whatever they reach.
  const entries = fs
    .readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f));
  const { files, packages } = bundledSources([...entries, failureConverterPath]);
  for (const file of files) hash.update(`${path.relative(root, file)}\0${fs.readFileSync(file, 'utf8')}\0`);
  for (const name of packages) {
    const { version } = JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string };
    hash.update(`${name}@${version}\0`);
  }
  return hash.digest('hex');
}

/**
 * Bundles the workflows (with the engine's failure converter, as the worker would) into `outFile`.
 * @example const { bytes } = await writeWorkflowBundle('.build/workflow-bundle.js');
 */
export async function writeWorkflowBundle(outFile: string): Promise<{ file: string; bytes: number; digest: string }> {
  const digest = workflowSourcesDigest();
  const { code } = await bundleWorkflowCode({ workflowsPath, failureConverterPath, logger: quietLogger });
  const body = `// erasure-engine workflow sources sha256:${digest}\n${code}`;
  fs.mkdirSync(path.dirname(path.resolve(outFile)), { recursive: true });
  fs.writeFileSync(outFile, body);
  return { file: path.resolve(outFile), bytes: Buffer.byteLength(body), digest };
}

/**
 * Reads a bundle written by {@link writeWorkflowBundle} and checks it was built from the current sources.
 * @example await Worker.create({ ..., workflowBundle: loadWorkflowBundle(process.env.WORKFLOW_BUNDLE) });
 */
export function loadWorkflowBundle(file: string): { code: string } {
  let code: string;
  try {
    code = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new WorkflowBundleError(`WORKFLOW_BUNDLE ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const recorded = digestLine.exec(code)?.[1];
  if (!recorded) throw new WorkflowBundleError(`WORKFLOW_BUNDLE ${file}: not a bundle written by "erasure bundle-workflows"`);
  if (recorded !== workflowSourcesDigest()) {
    throw new WorkflowBundleError(`WORKFLOW_BUNDLE ${file}: built from other workflow sources than these; rebuild it with "npx erasure bundle-workflows --out ${file}"`);
  }
  return { code };
}

// webpack's progress lines are noise for a CLI; warnings and errors still show.
const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`${message}\n`),
  error: (message: string) => process.stderr.write(`${message}\n`),
};
