/// <reference lib="dom" />
// The HTML report in a real browser (Debian's Chromium through playwright-core): it renders the expected elements,
// logs no error, asks the network for nothing, and hostile text from the evidence (script tags, javascript: URLs,
// </style>, SVG onload, RTL overrides) neither runs nor breaks the layout.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { runCli, skipUnbuilt } from '../e2e/helpers.ts';
import { attackers, compose, type HostAttacker, type SsrfAttacker } from '../fixtures/investigate/compose.ts';
import { hostileChain, ROLE } from './hostile-chain.ts';
import { makeFindings } from './pipeline.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = skipUnbuilt || (existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`);
if (skip && process.env.CI === 'true') throw new Error(`report browser test cannot run under CI: ${skip}`);

const PWNED = 'window.__pwned=1';
/** Hostile request targets: each would run script, load something or reorder text if it reached the page as markup. */
const HOSTILE_TARGETS = [
  `/p?u=http://169.254.169.254/latest/meta-data/iam/security-credentials/<script>${PWNED}</script>`,
  `/p?u=http://169.254.169.254/latest/meta-data/</style><img/src=http://198.51.100.9/x.png/onerror=${PWNED}>`,
  `/p?u=http://169.254.169.254/latest/user-data/<svg/onload=${PWNED}><a/href=javascript:${PWNED}>x</a>`,
  '/p?u=http://169.254.169.254/latest/meta-data/\u202egnp.exe',
];

/** A finding file whose every field is hostile (findings files are input too). */
function hostileFinding(i: number): string {
  const evil = `<script>${PWNED}</script></style><svg onload="${PWNED}"><a href="javascript:${PWNED}">\u202eevil</a>`;
  return JSON.stringify({
    type: 'finding',
    schema_version: '1',
    id: `hostile${i}`,
    rule: { id: `ssrf-metadata`, name: evil },
    severity: 'high',
    confidence: 0.9,
    attack: [],
    title: `title ${evil}`,
    remediation: evil,
    origin: { file: `logs/${evil}.log`, line: i + 1 },
    time: `2026-11-21T10:0${i}:00Z`,
    verdict: 'metadata',
    provider: 'aws',
    target: {
      raw: `/x?u=${evil}`,
      decoded: `http://169.254.169.254/${evil}`,
      path: `/latest/meta-data/iam/security-credentials/${evil}`,
    },
    outcome: 'likely-success',
    outcome_reason: evil,
    client: { ip: `198.18.9.9${evil}` },
    http: { status: 200, bytes: 1000 },
  });
}

describe('HTML report in Chromium', { skip }, () => {
  let dir: string;
  let browser: Browser;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imdsguard-report-'));
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  after(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Open a report with every request refused and recorded, a canary for script, and errors collected. */
  async function open(html: string, width = 1280): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const requests: string[] = [];
    const errors: string[] = [];
    // An alert(), confirm() or print() a payload managed to call would open a dialog: record it as an error.
    page.on('dialog', (d) => {
      errors.push(`dialog ${d.type()}: ${d.message()}`);
      return d.dismiss();
    });
    await page.route('**/*', (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.setContent(html, { waitUntil: 'load' });
    return { page, requests, errors };
  }

  async function assertInert(page: Page): Promise<void> {
    const state = await page.evaluate(() => ({
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      scripts: document.querySelectorAll('script').length,
      handlers: [...document.querySelectorAll('*')].flatMap((e) =>
        [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${e.tagName} ${a.name}`),
      ),
      hrefs: [...document.querySelectorAll('[href]')]
        .map((e) => e.getAttribute('href')!)
        .filter((h) => !h.startsWith('#')),
      images: document.querySelectorAll('img, image, iframe, object, embed').length,
      styles: document.querySelectorAll('style').length,
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      text: document.body.textContent ?? '',
    }));
    assert.equal(state.pwned, undefined, 'no hostile script ran');
    assert.equal(state.scripts, 0);
    assert.deepEqual(state.handlers, []);
    assert.deepEqual(state.hrefs, [], 'no link leaves the page');
    assert.equal(state.images, 0);
    assert.equal(state.styles, 1, 'one style element: a </style> in the evidence closed nothing');
    assert.ok(state.overflow <= 0, `no horizontal overflow (${state.overflow}px)`);
    assert.ok(!state.text.includes('\u202e'), 'bidi overrides are shown, not obeyed');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL and C1 controls must not reach the page
    assert.ok(!/[\u0000\u0080-\u009f]/.test(state.text), 'NUL and C1 controls are shown as \\xNN, not written');
  }

  test('incident report: timeline, chain, steps, links and remediation; hostile evidence shown as text', async () => {
    const sub = join(dir, 'incidents');
    mkdirSync(sub);
    const list = attackers(2);
    const composed = compose(list, 200);
    // Hostile requests from one more client, with hostile user agents.
    const hostile = HOSTILE_TARGETS.map(
      (t, i) =>
        `203.0.113.66 - - [21/Nov/2026:09:5${i}:00 +0000] "GET ${t} HTTP/1.1" 200 900 "javascript:${PWNED}" "<svg/onload=${PWNED}>\u202eua"`,
    ).join('\n');
    composed.web += `${hostile}\n`;
    const f = await makeFindings(sub, composed);
    const hostileFile = join(sub, 'hostile.jsonl');
    writeFileSync(hostileFile, `${[0, 1, 2].map(hostileFinding).join('\n')}\n`);
    const inputs = [...f.files, hostileFile];
    const jsonl = await runCli(['investigate', '--format', 'jsonl', ...inputs]);
    const incidents = jsonl.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const out = join(sub, 'report.html');
    const r = await runCli(['investigate', '--format', 'html', '-o', out, ...inputs]);
    assert.equal(r.status, 1, r.stderr);
    const html = readFileSync(out, 'utf8');
    assert.match(
      html,
      /<meta http-equiv="Content-Security-Policy" content="default-src (?:&#39;|')none(?:&#39;|'); style-src (?:&#39;|')sha256-/,
    );
    const { page, requests, errors } = await open(html);
    try {
      const shot = join(sub, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(statSync(shot).size > 20_000, 'a screenshot with content');
      assert.deepEqual(errors, [], 'no console error (a CSP violation would be one)');
      assert.deepEqual(requests, [], 'no network request');
      await assertInert(page);
      const seen = await page.evaluate(() => ({
        sections: document.querySelectorAll('section.incident').length,
        timelines: document.querySelectorAll('section.incident svg.timeline circle.dot').length,
        graphs: document.querySelectorAll('section.incident svg.graph g.node').length,
        remediation: [...document.querySelectorAll('ol.remediation pre')].map((e) => e.textContent ?? ''),
        border: getComputedStyle(document.querySelector('section.incident')!).borderLeftWidth,
        text: document.body.textContent ?? '',
        ids: [...document.querySelectorAll('section.incident')].map((e) => e.id),
      }));
      assert.equal(seen.sections, incidents.length);
      assert.deepEqual(
        seen.ids,
        incidents.map((i) => i.id),
      );
      assert.ok(seen.timelines > 0 && seen.graphs >= incidents.length);
      assert.equal(seen.border, '6px', 'the style sheet applies (its hash is in the CSP)');
      assert.ok(seen.remediation.some((c) => c.includes('--role-name web-role-0')));
      assert.ok(seen.remediation.some((c) => c.includes('--http-put-response-hop-limit 1')));
      assert.ok(seen.remediation.some((c) => c.includes('imdsguard export --to aws-waf')));
      // The hostile text is there, as text.
      assert.ok(seen.text.includes(`<script>${PWNED}</script>`));
      assert.ok(seen.text.includes(`<svg/onload=${PWNED}>`) || seen.text.includes(`<svg onload="${PWNED}">`));
      assert.ok(seen.text.includes('\\x202e'), 'the RTL override is shown as \\x202e');
      // No hostile role name reaches a command.
      assert.ok(!seen.remediation.join('\n').includes('script'));
      // Printed to PDF: print rules apply and a PDF comes out.
      await page.emulateMedia({ media: 'print' });
      const brk = await page.evaluate(
        () => getComputedStyle(document.querySelectorAll('section.incident')[1]!).breakBefore,
      );
      assert.equal(brk, 'page');
      const pdf = await page.pdf({ format: 'A4', printBackground: true });
      assert.ok(pdf.subarray(0, 5).toString() === '%PDF-' && pdf.length > 10_000);
      assert.deepEqual(requests, [], 'printing asked the network for nothing either');
    } finally {
      await page.close();
    }
  });

  test('on a phone-sized viewport the report fits the width: tables, timeline, graph and commands wrap', async () => {
    const sub = join(dir, 'narrow');
    mkdirSync(sub);
    const composed = compose(attackers(3), 100);
    composed.web += `${HOSTILE_TARGETS.map((t, i) => `203.0.113.67 - - [21/Nov/2026:09:4${i}:00 +0000] "GET ${t}${'/x'.repeat(400)} HTTP/1.1" 200 900 "-" "curl"`).join('\n')}\n`;
    const f = await makeFindings(sub, composed);
    const hostileFile = join(sub, 'hostile.jsonl');
    writeFileSync(hostileFile, `${[0, 1].map(hostileFinding).join('\n')}\n`);
    const out = join(sub, 'report.html');
    const r = await runCli(['investigate', '--format', 'html', '-o', out, ...f.files, hostileFile]);
    assert.equal(r.status, 1, r.stderr);
    for (const width of [360, 320]) {
      const { page, requests, errors } = await open(readFileSync(out, 'utf8'), width);
      try {
        await page.screenshot({ path: join(sub, `narrow-${width}.png`) });
        assert.deepEqual(errors, []);
        assert.deepEqual(requests, []);
        await assertInert(page);
        const seen = await page.evaluate(() => {
          const w = window.innerWidth;
          return {
            overflow: document.documentElement.scrollWidth - w,
            wide: [...document.body.querySelectorAll('*')]
              .filter((e) => !(e instanceof SVGElement) || e instanceof SVGSVGElement)
              .filter((e) => e.getBoundingClientRect().right > w + 1)
              .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
              .slice(0, 5),
            steps: document.querySelectorAll('table.steps tbody tr').length,
          };
        });
        assert.ok(seen.steps > 0);
        assert.deepEqual(seen.wide, [], `nothing wider than ${width}px`);
        assert.ok(seen.overflow <= 0, `no horizontal scroll at ${width}px (${seen.overflow}px)`);
      } finally {
        await page.close();
      }
    }
  });

  test('hostile strings in every field the report shows (paths, hosts, clients, roles, user agents, file names, processes; long, NUL, C1, RTL) neither run nor break the layout', async () => {
    const sub = join(dir, 'hostile');
    mkdirSync(sub);
    const list = attackers(1);
    const ssrf = list[0] as SsrfAttacker;
    ssrf.userAgent = `<script>alert(11)</script></style><svg/onload=alert(12)>javascript:alert(13)\u202e\u0085${'U'.repeat(5000)}`;
    ssrf.extra = `<script>${PWNED}</script></style><svg/onload=alert(14)>javascript:alert(15)\u202e\u009b${'P'.repeat(8000)}`;
    const host = list[1] as HostAttacker;
    host.exe = `/usr/bin/<svg/onload=alert(16)>\u202e\u0085${'E'.repeat(3000)}`;
    const composed = compose(list, 100);
    // Raw inputs under hostile names: the names reach the evidence, the "read at" lines and the graph's file nodes.
    const name = (stem: string, ext: string) =>
      join(sub, `${stem}<svg onload=alert(17)>\u202e\u0085${'N'.repeat(150)}${ext}`);
    const raw = {
      web: name('access', '.log'),
      app: name('app<img src=x onerror=alert(18)>', '.log'),
      trail: name('trail<style>', '.ndjson'),
      inventory: name('instances', '.json'),
      agent: name('agent', '.jsonl'),
      chain: name('findings', '.jsonl'),
    };
    writeFileSync(raw.web, composed.web);
    writeFileSync(raw.app, composed.app);
    writeFileSync(raw.trail, composed.trail);
    writeFileSync(raw.inventory, composed.instances);
    writeFileSync(raw.agent, composed.agent);
    writeFileSync(raw.chain, `${hostileChain('web').join('\n')}\n`);
    const inputs = Object.values(raw);
    const jsonl = await runCli(['investigate', '--format', 'jsonl', '--no-summary', ...inputs]);
    assert.equal(jsonl.status, 1, jsonl.stderr);
    const incidents = jsonl.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const chain = incidents.find((i) => i.roles.includes(ROLE));
    assert.ok(chain, 'the hostile chain is one incident');
    assert.ok(chain.links.length >= 4);
    assert.ok(incidents.some((i) => i.clients.includes(ssrf.client) && i.stages.includes('cloud-use')));
    const out = join(sub, 'report.html');
    const r = await runCli(['investigate', '--format', 'html', '--no-summary', '-o', out, ...inputs]);
    assert.equal(r.status, 1, r.stderr);
    const { page, requests, errors } = await open(readFileSync(out, 'utf8'));
    try {
      await page.screenshot({ path: join(sub, 'hostile.png'), fullPage: true });
      assert.deepEqual(errors, [], 'no console error and no dialog');
      assert.deepEqual(requests, [], 'no network request');
      await assertInert(page);
      const seen = await page.evaluate(() => {
        const sections = [...document.querySelectorAll('section.incident')];
        const width = window.innerWidth;
        return {
          ids: sections.map((e) => e.id),
          steps: sections.map((e) => e.querySelectorAll('table.steps tbody tr').length),
          links: sections.map((e) => e.querySelectorAll('table.links tbody tr').length),
          dots: sections.map((e) => e.querySelectorAll('svg.timeline circle.dot').length),
          nodes: sections.map((e) => e.querySelectorAll('svg.graph g.node').length),
          // Every box of the page stays inside the viewport's width: long strings wrap.
          wide: [...document.body.querySelectorAll('*')]
            .filter((e) => !(e instanceof SVGElement) || e instanceof SVGSVGElement)
            .filter((e) => e.getBoundingClientRect().right > width + 1)
            .map((e) => `${e.tagName}.${e.className}`)
            .slice(0, 5),
          text: document.body.textContent ?? '',
          remediation: [...document.querySelectorAll('ol.remediation pre')].map((e) => e.textContent ?? ''),
        };
      });
      const shown = (n: number, cap: number) => Math.min(n, cap);
      assert.deepEqual(
        seen.ids,
        incidents.map((i) => i.id),
      );
      assert.deepEqual(
        seen.steps,
        incidents.map((i) => shown(i.steps.length, 200)),
      );
      assert.deepEqual(
        seen.links,
        incidents.map((i) => shown(i.links.length, 400)),
      );
      assert.deepEqual(
        seen.dots,
        incidents.map((i) => i.steps.filter((st: { time?: string }) => st.time).length),
      );
      assert.ok(seen.nodes.every((n) => n >= 1));
      assert.deepEqual(seen.wide, [], 'nothing wider than the page');
      // The hostile text is on the page, as text, in each field.
      for (const piece of [
        '<svg/onload=window.__pwned=1>', // the role
        '198.18.9.9<script>window.__pwned=1</script>', // the client
        'x<svg/onload=alert(3)>', // the host
        'i-0hostile<script>alert(5)</script>', // the instance
        '/usr/bin/<svg/onload=alert(16)>', // the agent's process
        'app<img src=x onerror=alert(18)>', // a file name
        '<script>window.__pwned=1</script></style><svg/onload=alert(14)>', // a request path
        '\\x202e',
        '\\x00',
        '\\x85',
        '\\x9b',
      ])
        assert.ok(seen.text.includes(piece), `shown as text: ${piece}`);
      // No hostile role or instance reaches a command, nor a name with controls or bidi overrides (shell-quoted file
      // names with markup in them are real names, and stay).
      const commands = seen.remediation.join('\n');
      assert.doesNotMatch(commands, /--role-name '?</, 'the hostile role is in no command');
      assert.doesNotMatch(commands, /--instance-id '?i-0hostile/, 'the hostile instance is in no command');
      assert.doesNotMatch(commands, /\\x(?:00|85|9b|202e)/, 'no control or bidi character in a command');
      assert.match(commands, /--role-name web-role-0 /, 'the real role still is');
    } finally {
      await page.close();
    }
  });

  test('--format html for scan, cloudtrail and posture: their findings as a report', async () => {
    const sub = join(dir, 'findings');
    mkdirSync(sub);
    const composed = compose(attackers(1), 50);
    composed.web += `${HOSTILE_TARGETS.map((t, i) => `203.0.113.66 - - [21/Nov/2026:09:5${i}:00 +0000] "GET ${t} HTTP/1.1" 200 900 "-" "x"`).join('\n')}\n`;
    writeFileSync(join(sub, 'access.log'), composed.web);
    writeFileSync(join(sub, 'trail.ndjson'), composed.trail);
    writeFileSync(join(sub, 'instances.json'), composed.instances);
    const runs: Array<[string, string[]]> = [
      ['scan', ['--no-summary', join(sub, 'access.log')]],
      ['cloudtrail', [join(sub, 'trail.ndjson')]],
      ['posture', ['--readiness', join(sub, 'r.txt'), join(sub, 'instances.json')]],
    ];
    for (const [verb, args] of runs) {
      const jsonl = await runCli([verb, '--format', 'jsonl', ...args]);
      const count = jsonl.stdout.split('\n').filter(Boolean).length;
      assert.ok(count > 0, `${verb} finds something`);
      const html = await runCli([verb, '--format', 'html', ...args]);
      assert.ok(html.status === 1, html.stderr);
      const { page, requests, errors } = await open(html.stdout);
      try {
        await page.screenshot({ path: join(sub, `${verb}.png`) });
        assert.deepEqual(errors, []);
        assert.deepEqual(requests, []);
        await assertInert(page);
        const rows = await page.evaluate(
          () => document.querySelectorAll('section.findings table.findings-list tbody tr').length,
        );
        assert.equal(rows, count, `${verb}: one row per finding`);
        const h1 = await page.evaluate(() => document.querySelector('h1')?.textContent);
        assert.equal(h1, 'imdsguard findings report');
      } finally {
        await page.close();
      }
    }
  });
});
