/**
 * The Temporal Web UI as the operators' console, in a real browser: Debian's chromium, headless, driven by
 * playwright-core, against the go-installed dev server's own Web UI decoding through the engine's codec server
 * (the wiring `npm start` uses). An operator filters the list by `ErasureStatus = "awaiting_confirmation"`,
 * opens the stuck erasure, reads its summary and details, and confirms with the command the details print.
 * With WEBUI_SCREENSHOTS=1 the test also writes the README's screenshots to docs/.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { toolPaths } from '../../src/dev/servers';
import { eventually, http, keys, startStack, type Stack } from '../harness/stack';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const screenshots = process.env.WEBUI_SCREENSHOTS === '1' ? path.resolve(__dirname, '../../docs') : undefined;

const catalog = `
systems:
  - id: legacy-billing
    kind: manual
    owner: billing-team
    reminderEvery: 3d
  - id: paper-archive
    kind: manual
    owner: records-office
`;

/** Every text of the page and of its frames (the UI renders markdown details in frames of their own). */
async function allText(page: Page): Promise<string> {
  const texts = await Promise.all(page.frames().map((f) => f.locator('body').innerText().catch(() => '')));
  return texts.join('\n');
}

describe('Temporal Web UI as the operator console (dev server UI, codec server, headless chromium)', function () {
  this.timeout(300_000);
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let api: ReturnType<typeof http>;
  let stuck: string;
  let done: string;

  before(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "npm run setup" (it installs Debian's chromium)`);
    stack = await startStack({ ui: true, catalog });
    api = http(stack, keys.all);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1500, height: 800 } });
    const submit = async (email: string) => {
      const res = await api('POST', '/erasures', { subject: { email }, jurisdiction: 'GDPR' });
      assert.equal(res.status, 202, res.text);
      const id = res.json.requestId as string;
      await eventually(async () => (await api('GET', `/erasures/${id}`)).json?.status === 'awaiting_confirmation', 'awaiting confirmation');
      return id;
    };
    stuck = await submit('stuck.person@example.org');
    done = await submit('done.person@example.org');
    // `done` has one system confirmed: it still waits for the other, but its details move on.
    const confirmed = await api('POST', `/erasures/${done}/confirmations`, { system: 'legacy-billing', confirmedBy: 'billing-team' });
    assert.equal(confirmed.status, 202, confirmed.text);
    const other = await api('POST', `/erasures/${done}/confirmations`, { system: 'paper-archive', confirmedBy: 'records-office' });
    assert.equal(other.status, 202, other.text);
    await eventually(async () => (await api('GET', `/erasures/${done}`)).json?.status === 'completed', 'the second request completed');
  });
  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('lists the stuck erasure under ErasureStatus = "awaiting_confirmation", with its jurisdiction, deadline and pending systems as columns', async () => {
    const ui = stack.temporal.uiUrl!;
    await page.goto(`${ui}/namespaces/default/workflows?query=${encodeURIComponent('ErasureStatus = "awaiting_confirmation"')}`);
    await page.getByText(`erasure-${stuck}`).first().waitFor({ timeout: 60_000 });
    // The operator adds the engine's search attributes as columns once (the UI keeps them in the browser).
    const buttons = page.getByRole('button');
    const configure = buttons.nth((await buttons.count()) - 3);
    await configure.click();
    // The nearest element around a column's name that holds buttons is its own row; its last button is "+" or "−".
    const toggle = (column: string) => page.getByText(column, { exact: true }).locator('xpath=ancestor::*[.//button][1]').getByRole('button').last().click();
    for (const column of ['Run ID', 'Type', 'Start', 'End']) await toggle(column);
    for (const column of ['ErasurePendingSystems', 'ErasureDeadline', 'ErasureJurisdiction', 'ErasureStatus']) await toggle(column);
    await page.keyboard.press('Escape');
    await page.getByText('Configure Workflows Table').waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => page.mouse.click(300, 600));
    await page.getByRole('button', { name: 'Collapse saved views' }).click().catch(() => undefined);
    const row = page.locator('tr', { hasText: `erasure-${stuck}` });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /legacy-billing/);
    assert.match(text, /paper-archive/);
    assert.match(text, /GDPR/);
    // The completed request is not in the filtered list.
    assert.ok(!(await page.locator('body').innerText()).includes(`erasure-${done}`), 'a completed erasure is not awaiting confirmation');
    if (screenshots) await page.screenshot({ path: path.join(screenshots, 'webui-list.png') });
  });

  it("opens the stuck erasure: its summary, each system's state and the exact command that confirms", async () => {
    const ui = stack.temporal.uiUrl!;
    await page.goto(`${ui}/namespaces/default/workflows/erasure-${stuck}`);
    await page.getByText('User Metadata').first().click();
    const command = `temporal workflow signal --workflow-id erasure-${stuck} --name confirmDeletion`;
    const text = await eventually(async () => {
      const t = await allText(page);
      return t.includes(command) && t.includes('GDPR erasure · 2 systems · deadline') && t.includes('reminder for legacy-billing') && t;
    }, 'the summary, the current details and the events with summaries', 60_000);
    assert.match(text, /Status: awaiting confirmation/);
    assert.match(text, /Waiting for the owner of legacy-billing to confirm/);
    assert.match(text, /Waiting for the owner of paper-archive to confirm/);
    assert.match(text, new RegExp(`tctl workflow signal -w erasure-${stuck} -n confirmDeletion`));
    assert.match(text, new RegExp(`curl -s -X POST "\\$ERASURE_API_URL/erasures/${stuck}/confirmations"`));
    // Timers and activities carry summaries.
    assert.match(text, /reminder for legacy-billing/);
    assert.match(text, /ask the owner of paper-archive to erase/);
    assert.match(text, /legal deadline/);
    if (screenshots) await page.screenshot({ path: path.join(screenshots, 'webui-details.png') });

    // The command as the details print it confirms the system for real.
    const line = text.split('\n').find((l) => l.includes(command) && l.includes('paper-archive'));
    assert.ok(line, 'the paper-archive command is printed');
    const shell = `${line.trim().replace('<your name>', 'records-office')} --address ${stack.temporal.address}`;
    await run('bash', ['-c', shell.replace(/^temporal /, `${toolPaths().temporal} `)], { timeout: 60_000 });
    const status = await eventually(async () => {
      const s = (await api('GET', `/erasures/${stuck}`)).json;
      return s?.systems?.find((x: { id: string; status: string }) => x.id === 'paper-archive')?.status === 'erased' && s;
    }, 'paper-archive confirmed by the printed command');
    assert.equal(status.status, 'awaiting_confirmation');
    // The details follow: paper-archive is confirmed, only legacy-billing still waits.
    await page.reload();
    await page.getByText('User Metadata').first().click();
    await eventually(async () => {
      const t = await allText(page);
      return t.includes('Waiting for the owner of legacy-billing') && !t.includes('Waiting for the owner of paper-archive') && t;
    }, 'the details after the confirmation', 60_000);
  });
});
