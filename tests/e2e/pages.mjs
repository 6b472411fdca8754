// The repository's web pages in a real headless Chromium, compared with git's own answers for
// the same history (tests/e2e/pages.sh builds and pushes the histories, then runs this).
//
// Usage: node tests/e2e/pages.mjs CONFIG.json
//   CONFIG: {"base": BASE_URL, "token": ADMIN_TOKEN, "repo": "o/r" (pushed from src),
//            "private": "o/p" (main of src, private), "empty": "o/e" (no refs),
//            "src": the source repository, "artifacts": where screenshots go,
//            "gogit": null or {"repo": "o/g", "src": a bare repository pushed there}}
// Every page is opened twice, in a context with JavaScript and in one without, and must
// show the same content in both. Compared with git (run on src):
//   tree     table.tree rows = git ls-tree -l; div.latest = git log -1 REV, and a link to
//            the history of PATH there
//   blob     td.line texts joined = the file's bytes; binary, image, Markdown, LFS pointer
//            and large files as the spec says; raw = git cat-file blob
//   log      li.commit ids, through every page (rel=next) = git log --format=%H [-- PATH]
//   commit   pre.message = the commit's message; parents; per file: data-status = git diff
//            --raw, data-added/data-deleted = git diff --numstat, hunk rows = git diff -U3
//   compare  git log a..b and git diff a...b as above
//   refs     table#branches and table#tags = git for-each-ref
//   summary  README rendered, the root tree, the latest commit, counts, clone URL, copy
// and: headers (CSP without 'unsafe-inline', nosniff, immutable for full ids, ETag and 304
// for refs), error pages, a private repository (401 with WWW-Authenticate: Basic, then the
// pages with credentials), an empty one, hostile names shown as text, no dialog, console
// error or page error anywhere, no injected script or event handler in any page's DOM.
// Also: the ETags of ref-named pages change after a push and after a default-branch change.
// Screenshots of each kind of page, light and dark, 1280x800 and 390x844, into
// ARTIFACTS/<kind>-<scheme>-<desktop|phone>.png; on those, line numbers must not wrap.
// git's "\ No newline at end of file" may be a tr.nonl row (not in the spec) or absent.
// Prints `ok - name` / `not ok - name` (with `#` lines saying why), `# ` notes, then
// `pages.mjs: N passed, M failed`; exits 1 if M > 0.
// Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM) and playwright-core.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const BASE = cfg.base.replace(/\/$/, '');
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const POLICY =
  "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const IMMUTABLE = 'public, max-age=31536000, immutable';
const PRIVATE_IMMUTABLE = 'private, max-age=31536000, immutable';
const HOSTILE_FILE = '<img src=x onerror=alert(1)>.txt';
const HOSTILE_BRANCH = 'x"onmouseover=alert(1)';
const AUTH = 'Basic ' + Buffer.from(`x:${cfg.token}`).toString('base64');

// ---- reporting

let passed = 0;
let failed = 0;
function report(name, problems) {
  if (problems.length === 0) {
    passed += 1;
    console.log(`ok - ${name}`);
  } else {
    failed += 1;
    console.log(`not ok - ${name}`);
    for (const p of problems.slice(0, 25)) console.log(`#   ${String(p).replace(/\n/g, '\n#   ')}`);
    if (problems.length > 25) console.log(`#   ... and ${problems.length - 25} more`);
  }
}
async function check(name, fn) {
  let problems;
  try {
    problems = (await fn()) || [];
  } catch (e) {
    problems = [`threw: ${(e && e.stack) || e}`];
  }
  report(name, problems);
}
const note = (s) => console.log(`# ${s}`);
const show = (v) => JSON.stringify(v);

// ---- git

function gitIn(dir) {
  return (args, opts = {}) =>
    execFileSync('git', ['-C', dir, '-c', 'core.quotePath=false', '--literal-pathspecs', ...args], {
      maxBuffer: 1 << 30,
      encoding: opts.buffer ? 'buffer' : 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    });
}
function lsTree(git, rev, dir, recursive = false, treesOnly = false) {
  const out = git(['ls-tree', '-l', '-z', ...(recursive ? ['-r'] : []), ...(treesOnly ? ['-d'] : []), dir ? `${rev}:${dir}` : rev]);
  return out
    .split('\0')
    .filter(Boolean)
    .map((e) => {
      const tab = e.indexOf('\t');
      const [mode, type, oid, size] = e.slice(0, tab).split(/ +/);
      return { mode, type, oid, size, name: e.slice(tab + 1) };
    });
}
function gitLog(git, revs, p) {
  const args = ['log', '--format=%H%x00%an%x00%at%x00%ct%x00%B%x1e', ...revs];
  if (p !== undefined) args.push('--', p);
  return git(args)
    .split('\x1e')
    .map((s) => s.replace(/^\n/, ''))
    .filter(Boolean)
    .map((s) => {
      const [id, author, at, ct, message] = s.split('\0');
      return { id, author, at: Number(at), ct: Number(ct), subject: message.split('\n')[0] };
    });
}
const revParse = (git, rev) => git(['rev-parse', '--verify', '-q', `${rev}^{commit}`]).trim();
function message(git, id) {
  const raw = git(['cat-file', 'commit', id]);
  return raw.slice(raw.indexOf('\n\n') + 2);
}
function expectedDiff(git, a, b) {
  const parts = git(['diff', '--raw', '-z', '--no-abbrev', '--no-renames', a, b]).split('\0');
  const files = [];
  for (let i = 0; i + 1 < parts.length && parts[i].startsWith(':'); i += 2) {
    files.push({ status: parts[i].split(' ')[4][0], path: parts[i + 1] });
  }
  const numstat = new Map();
  for (const e of git(['diff', '--numstat', '-z', '--no-renames', a, b]).split('\0').filter(Boolean)) {
    const [added, deleted, ...rest] = e.split('\t');
    numstat.set(rest.join('\t'), [added, deleted]);
  }
  for (const f of files) [f.added, f.deleted] = numstat.get(f.path) || ['?', '?'];
  return files;
}
// git diff's hunks of one path as the page's rows: {cls: 'hunk', text} (the header up to its
// second @@) and {cls: ctx|add|del, old, new, code}.
function expectedRows(git, a, b, p) {
  const lines = git(['diff', '--no-color', '--no-renames', '--no-ext-diff', '-U3', a, b, '--', p]).split('\n');
  const rows = [];
  let i = 0;
  while (i < lines.length) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(lines[i]);
    i += 1;
    if (!m) continue;
    let [o, oc, n, nc] = [Number(m[1]), m[2] === undefined ? 1 : Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
    rows.push({ cls: 'hunk', text: m[0] });
    while ((oc > 0 || nc > 0) && i < lines.length) {
      const l = lines[i];
      i += 1;
      if (l[0] === '\\') {
        rows.push({ cls: 'nonl' });
        continue;
      }
      if (l[0] === ' ') {
        rows.push({ cls: 'ctx', old: String(o), new: String(n), code: l.slice(1) });
        o += 1; n += 1; oc -= 1; nc -= 1;
      } else if (l[0] === '-') {
        rows.push({ cls: 'del', old: String(o), new: '', code: l.slice(1) });
        o += 1; oc -= 1;
      } else if (l[0] === '+') {
        rows.push({ cls: 'add', old: '', new: String(n), code: l.slice(1) });
        n += 1; nc -= 1;
      } else {
        throw new Error(`unexpected diff line ${show(l)}`);
      }
    }
    // "\ No newline at end of file" after the hunk's last line.
    if (i < lines.length && lines[i][0] === '\\') {
      rows.push({ cls: 'nonl' });
      i += 1;
    }
  }
  return rows;
}

// ---- URLs and fetches

const enc = (s) => s.split('/').map(encodeURIComponent).join('/');
function pageUrl(repo, kind, rev, p) {
  let u = `${BASE}/${repo}/-/${kind}`;
  if (rev !== undefined) u += `/${enc(rev)}`;
  if (p) u += `/${enc(p)}`;
  return u;
}
const pathOf = (href) => decodeURIComponent(new URL(href, BASE).pathname);
async function get(url, headers = {}) {
  const r = await fetch(url, { headers, redirect: 'manual' });
  const body = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, body };
}

// ---- the page, as tests read it (runs in the page)

function extract() {
  const $ = (s, r = document) => r.querySelector(s);
  const $$ = (s, r = document) => [...r.querySelectorAll(s)];
  const text = (e) => (e ? e.textContent : null);
  const trim = (e) => (e ? e.textContent.trim() : null);
  const attr = (e, a) => (e ? e.getAttribute(a) : null);
  const hazards = [];
  for (const el of $$('*')) {
    for (const a of el.attributes) {
      if (/^on/i.test(a.name)) hazards.push(`<${el.localName} ${a.name}=${JSON.stringify(a.value)}>`);
      if (/^(href|src|action|formaction|xlink:href|srcdoc|data)$/i.test(a.name) && /^\s*(javascript|vbscript|data:text\/html)/i.test(a.value)) {
        hazards.push(`<${el.localName} ${a.name}=${JSON.stringify(a.value)}>`);
      }
    }
    const name = el.localName;
    if (name === 'script' && attr(el, 'src') !== '/-/static/pages.js') hazards.push(`<script src=${JSON.stringify(attr(el, 'src'))}>${el.textContent.slice(0, 60)}`);
    if (['iframe', 'frame', 'object', 'embed', 'base', 'form', 'style'].includes(name)) hazards.push(`<${name}>`);
    if (name === 'meta' && el.hasAttribute('http-equiv') && !/^content-type$/i.test(attr(el, 'http-equiv'))) hazards.push(`<meta http-equiv=${attr(el, 'http-equiv')}>`);
    if (name === 'link' && /stylesheet/i.test(attr(el, 'rel') || '') && attr(el, 'href') !== '/-/static/style.css') hazards.push(`<link rel=stylesheet href=${attr(el, 'href')}>`);
  }
  const main = $('main');
  const refRows = (sel) =>
    $(sel)
      ? $$(`${sel} tr`)
          .filter((tr) => $('td.name', tr))
          .map((tr) => ({ name: trim($('td.name', tr)), id: trim($('td.id', tr)), href: attr($('td.id a', tr), 'href'), date: attr($('td.date time', tr), 'datetime') }))
      : null;
  const block = (sel) => ($(sel) ? { text: text($(sel)), links: $$(`${sel} a`).map((a) => a.href) } : null);
  return {
    h1: { text: trim($('header h1 a')), href: attr($('header h1 a'), 'href') },
    nav: $$('header nav[aria-label="repository"] a').map((a) => a.textContent.trim()),
    hasMain: !!main,
    mainText: main ? main.textContent.replace(/\s+/g, ' ').trim() : null,
    bodyText: document.body ? document.body.textContent.replace(/\s+/g, ' ').trim().slice(0, 400) : null,
    error: text($('p.error')),
    tree: $('table.tree')
      ? $$('table.tree tbody tr').map((tr) => ({
          mode: trim($('td.mode', tr)),
          type: trim($('td.type', tr)),
          name: trim($('td.name', tr)),
          size: trim($('td.size', tr)),
          href: attr($('td.name a', tr), 'href'),
        }))
      : null,
    crumbs: $('nav.crumbs') ? { label: attr($('nav.crumbs'), 'aria-label'), text: text($('nav.crumbs')), links: $$('nav.crumbs a').map((a) => a.textContent.trim()) } : null,
    latest: $('div.latest')
      ? { href: attr($('div.latest a.id'), 'href'), history: attr($('div.latest a.history'), 'href'), text: text($('div.latest')).replace(/\s+/g, ' ').trim() }
      : null,
    switcher: $('details.switch') ? $$('details.switch a').map((a) => ({ text: a.textContent.trim(), url: a.href })) : null,
    blob: $('table.blob')
      ? $$('table.blob tr').map((tr) => ({ id: tr.id, num: trim($('td.num', tr)), numHref: attr($('td.num a', tr), 'href'), line: text($('td.line', tr)) }))
      : null,
    highlighted: $$('table.blob td.line span.k, table.blob td.line span.s, table.blob td.line span.c, table.blob td.line span.n').length,
    binary: block('p.binary'),
    large: block('p.large'),
    lfs: block('p.lfs'),
    images: $$('main img').map((i) => ({ src: attr(i, 'src'), url: i.src, alt: i.alt, complete: i.complete, width: i.naturalWidth })),
    markdown: $('article.markdown')
      ? {
          text: text($('article.markdown')),
          headings: $$('article.markdown :is(h1,h2,h3,h4,h5,h6)').map((h) => [h.localName, h.textContent.trim()]),
          links: $$('article.markdown a').map((a) => ({ text: a.textContent.trim(), href: attr(a, 'href'), url: a.href })),
        }
      : null,
    plain: $$('main a').filter((a) => /[?&]plain=1/.test(attr(a, 'href') || '')).map((a) => a.href),
    log: $('ol.log')
      ? $$('ol.log li.commit').map((li) => ({
          id: trim($('a.id', li)),
          href: attr($('a.id', li), 'href'),
          subject: text($('span.subject', li)),
          author: text($('span.author', li)),
          datetime: attr($('time', li), 'datetime'),
        }))
      : null,
    next: $('a[rel~="next"]') ? $('a[rel~="next"]').href : null,
    message: text($('pre.message')),
    meta: $('dl.meta') ? { text: text($('dl.meta')), parents: $$('dl.meta a.parent').map((a) => attr(a, 'href')) } : null,
    diff: $('section.diff')
      ? {
          cut: text($('p.cut')),
          files: $$('section.diff div.file').map((f) => ({
            path: f.dataset.path,
            status: f.dataset.status,
            h3: trim($('h3', f)),
            added: attr($('span.stat', f), 'data-added'),
            deleted: attr($('span.stat', f), 'data-deleted'),
            binary: trim($('p.binary', f)),
            rows: $$('table.hunks tr', f).map((tr) => {
              const cls = ['hunk', 'ctx', 'add', 'del'].find((c) => tr.classList.contains(c)) || tr.className;
              if (cls === 'hunk') return { cls, text: tr.textContent.trim() };
              return { cls, old: trim($('td.old', tr)), new: trim($('td.new', tr)), code: text($('td.code', tr)) };
            }),
          })),
        }
      : null,
    branches: refRows('table.refs#branches'),
    tags: refRows('table.refs#tags'),
    counts: { branches: trim($('span.branches')), tags: trim($('span.tags')) },
    clone: $('#clone-url') ? { tag: $('#clone-url').localName, value: attr($('#clone-url'), 'value'), readonly: $('#clone-url').hasAttribute('readonly') } : null,
    copy: $('button#copy') ? attr($('button#copy'), 'type') : null,
    readme: $('section.readme') ? { text: text($('section.readme')), markdown: !!$('section.readme article.markdown'), pre: !!$('section.readme pre') } : null,
    empty: $('section.empty') ? text($('section.empty')) : null,
    hazards,
  };
}

function firstDifference(a, b, at = '') {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[k], b[k], `${at}.${k}`);
      if (d) return d;
    }
  }
  return `${at || '(whole)'}: ${show(a)?.slice(0, 300)} / ${show(b)?.slice(0, 300)}`;
}

// ---- the browser

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
const incidents = [];
const favicon = new Set();
const hazards = [];
const headerProblems = [];
const policyProblems = [];
const markupProblems = [];
const scriptDifferences = [];
const datesSeen = { author: 0, committer: 0 };
const seen = new Map();
let visits = 0;

async function tab(options, label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  // Every navigation asks the server (no revalidated copies from the browser's cache).
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  page.on('dialog', (d) => {
    incidents.push(`${label} ${page.url()}: dialog ${d.type()} ${show(d.message())}`);
    d.dismiss().catch(() => {});
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location().url;
    // Chromium logs a page's own 4xx status (error pages, 401), and a missing /favicon.ico,
    // as "Failed to load resource": neither is the page's doing.
    if (/^Failed to load resource/.test(m.text())) {
      if (at === page.url() || at === '' || /^chrome-error:/.test(at)) return;
      if (new URL(at).pathname === '/favicon.ico') {
        favicon.add(m.text());
        return;
      }
    }
    incidents.push(`${label} ${page.url()}: console error: ${m.text()}${at && at !== page.url() ? ` (${at})` : ''}`);
  });
  page.on('pageerror', (e) => incidents.push(`${label} ${page.url()}: page error: ${e.message}`));
  page.setDefaultTimeout(60000);
  return { context, page };
}
const js = await tab({}, 'js');
const nojs = await tab({ javaScriptEnabled: false }, 'nojs');
const pair = { js: js.page, nojs: nojs.page, repo: cfg.repo };

// visit URL [PAIR]: the page with JavaScript and without; both must agree. Returns the
// JavaScript one's {status, headers, ...extract()}. Headers, markup common to every page
// and hazards are checked on the way (reported at the end).
async function visit(url, p = pair) {
  const got = {};
  for (const which of ['js', 'nojs']) {
    const response = await p[which].goto(url, { waitUntil: 'load' });
    visits += 1;
    got[which] = { status: response.status(), headers: await response.allHeaders(), ...(await p[which].evaluate(extract)) };
  }
  const { js: a, nojs: b } = got;
  const same = firstDifference({ ...a, headers: undefined }, { ...b, headers: undefined });
  if (same) scriptDifferences.push(`${url}: ${same}`);
  for (const h of a.hazards) hazards.push(`${url}: ${h}`);
  const h = a.headers;
  if (a.status !== 401) {
    const wrong = [];
    if (h['content-type'] !== 'text/html; charset=utf-8') wrong.push(`content-type ${show(h['content-type'])}`);
    const csp = h['content-security-policy'];
    if (!csp) wrong.push('no content-security-policy');
    else {
      if (/unsafe-inline|unsafe-eval/.test(csp)) wrong.push(`content-security-policy allows ${csp}`);
      if (!/default-src 'none'/.test(csp) || !/script-src 'self'/.test(csp)) wrong.push(`content-security-policy ${show(csp)}`);
      if (csp !== POLICY) policyProblems.push([url, show(csp)]);
    }
    if (h['x-content-type-options'] !== 'nosniff') wrong.push(`x-content-type-options ${show(h['x-content-type-options'])}`);
    if (wrong.length) headerProblems.push([url, `${a.status}: ${wrong.join('; ')}`]);
    const m = [];
    if (a.h1.text !== p.repo || a.h1.href !== `/${p.repo}/`) m.push(`header h1 a ${show(a.h1)}`);
    for (const link of ['Summary', 'Files', 'Commits', 'Refs']) if (!a.nav.includes(link)) m.push(`nav[aria-label=repository] lacks ${link} (${show(a.nav)})`);
    if (!a.hasMain) m.push('no <main>');
    if (m.length) markupProblems.push([url, m.join('; ')]);
  }
  seen.set(url, a);
  return a;
}
const status = (page, want, url) => (page.status === want ? [] : [`${url}: status ${page.status}, expected ${want}${page.error ? ` (${page.error.trim()})` : ''}`]);

// ---- comparisons

function treeProblems(page, git, rev, dir, repo) {
  const problems = [];
  const want = lsTree(git, rev, dir);
  if (!page.tree) return ['no table.tree'];
  const rows = page.tree;
  const key = (r) => [r.mode, r.type, r.name, r.size].join(' ');
  const wantKeys = want.map((w) => [w.mode, w.type, w.name, w.type === 'blob' ? w.size.trim() : '-'].join(' '));
  const gotKeys = rows.map(key);
  if (show(wantKeys) !== show(gotKeys)) {
    problems.push(`rows differ from git ls-tree -l ${dir ? `${rev}:${dir}` : rev}:`);
    for (let i = 0; i < Math.max(wantKeys.length, gotKeys.length); i++) {
      if (wantKeys[i] !== gotKeys[i]) problems.push(`  row ${i}: page ${show(gotKeys[i])}, git ${show(wantKeys[i])}`);
    }
  }
  for (const [i, r] of rows.entries()) {
    const full = dir ? `${dir}/${r.name}` : r.name;
    if (r.type === 'commit') {
      if (r.href) problems.push(`${full}: a submodule is linked (${r.href})`);
    } else if (!r.href) {
      problems.push(`${full}: no link`);
    } else {
      const p = pathOf(r.href);
      const kind = r.type === 'tree' ? 'tree' : 'blob';
      if (!p.startsWith(`/${repo}/-/${kind}/`) || !p.endsWith(`/${full}`)) problems.push(`row ${i} ${full}: link ${r.href}`);
    }
  }
  // The directory's page shows the commit its revision names (git log -1 REV) and links
  // to the directory's history, where git log -1 REV -- PATH comes first.
  const latest = git(['log', '-1', '--format=%H', rev]).trim();
  if (!page.latest || !page.latest.href || !page.latest.href.endsWith(latest)) problems.push(`div.latest a.id ${show(page.latest)}, git log -1: ${latest}`);
  const historyUrl = page.latest && page.latest.history ? new URL(page.latest.history, BASE) : null;
  if (!historyUrl || decodeURIComponent(historyUrl.pathname) !== `/${repo}/-/commits/${rev}` || (historyUrl.searchParams.get('path') || '') !== (dir || ''))
    problems.push(`div.latest a.history ${page.latest && page.latest.history}, expected the history of ${dir || '/'} at ${rev}`);
  return problems;
}

function blobLineProblems(page, bytes) {
  const text = bytes.toString('utf8');
  if (!page.blob) return ['no table.blob'];
  const problems = [];
  const lines = page.blob.map((r) => r.line);
  const joined = lines.join('\n') + (text.endsWith('\n') ? '\n' : '');
  if (joined !== text) {
    const want = text.split('\n');
    if (text.endsWith('\n')) want.pop();
    const i = want.findIndex((l, k) => l !== lines[k]);
    problems.push(`td.line texts differ from the file: ${lines.length} lines, git ${want.length}; first difference at line ${i + 1}: page ${show(lines[i])}, file ${show(want[i])}`);
  }
  for (const [i, r] of page.blob.entries()) {
    const n = String(i + 1);
    if (r.id !== `L${n}` || r.num !== n || r.numHref !== `#L${n}`) {
      problems.push(`row ${i}: id ${show(r.id)}, td.num ${show(r.num)}, href ${show(r.numHref)}`);
      break;
    }
  }
  return problems;
}

function rowsDiffer(got, want) {
  const n = Math.max(got.length, want.length);
  for (let i = 0; i < n; i++) {
    const g = got[i];
    const w = want[i];
    if (!g || !w) return { i, g, w };
    if (g.cls !== w.cls) return { i, g, w };
    if (g.cls === 'nonl') continue;
    if (g.cls === 'hunk') {
      const m = /^@@.*?@@/.exec(g.text);
      if (!m || m[0] !== w.text) return { i, g, w };
    } else if (g.old !== w.old || g.new !== w.new || g.code !== w.code) {
      return { i, g, w };
    }
  }
  return null;
}

function diffProblems(page, git, a, b, limit = 1000) {
  if (!page.diff) return ['no section.diff'];
  const problems = [];
  const want = expectedDiff(git, a, b);
  const got = page.diff.files;
  const cut = page.diff.cut !== null;
  if (got.length !== want.length && !(cut && got.length < want.length)) {
    problems.push(`${got.length} div.file, git diff --raw ${a} ${b} lists ${want.length}${cut ? ' (cut)' : ''}`);
  }
  let cutFiles = 0;
  for (let i = 0; i < Math.min(got.length, want.length, limit); i++) {
    const g = got[i];
    const w = want[i];
    if (g.path !== w.path || g.status !== w.status) {
      problems.push(`file ${i}: page ${g.status} ${show(g.path)}, git diff --raw ${w.status} ${show(w.path)}`);
      continue;
    }
    if (!g.h3 || !g.h3.includes(w.path)) problems.push(`${w.path}: h3 ${show(g.h3)}`);
    if (w.added === '-') {
      if (g.binary !== 'Binary files differ') problems.push(`${w.path}: binary, p.binary ${show(g.binary)}`);
      if (g.added !== '-' || g.deleted !== '-') problems.push(`${w.path}: binary, data-added/deleted ${g.added}/${g.deleted}, expected -/-`);
      if (g.rows.length) problems.push(`${w.path}: binary, yet ${g.rows.length} hunk rows`);
      continue;
    }
    // git's "\ No newline at end of file": the spec has no row for it; the page may have tr.nonl.
    const all = expectedRows(git, a, b, w.path);
    const rows = g.rows.some((r) => r.cls === 'nonl') ? all : all.filter((r) => r.cls !== 'nonl');
    const d = rowsDiffer(g.rows, rows);
    const partial = d && cut && !g.rows.slice(0, d.i).some((r, k) => rowsDiffer([r], [rows[k]])) && d.i === g.rows.length;
    if (partial) {
      cutFiles += 1;
    } else if (d) {
      problems.push(`${w.path}: ${g.rows.length} rows, git diff -U3 ${rows.length}; row ${d.i}: page ${show(d.g)}, git ${show(d.w)}`);
    }
    if (!partial && (g.added !== w.added || g.deleted !== w.deleted)) {
      problems.push(`${w.path}: data-added/deleted ${g.added}/${g.deleted}, git diff --numstat ${w.added}/${w.deleted}`);
    }
  }
  if (cut) note(`diff ${a.slice(0, 12)}..${b.slice(0, 12)} cut (${show(page.diff.cut.trim())}): ${got.length} of ${want.length} files shown, ${cutFiles} partly`);
  return problems;
}

function logEntryProblems(repo, got, want) {
  const problems = [];
  if (got.length !== want.length) problems.push(`${got.length} commits, git log ${want.length}`);
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const g = got[i];
    const w = want[i];
    const wrong = [];
    if (!g.href || pathOf(g.href) !== `/${repo}/-/commit/${w.id}`) wrong.push(`href ${show(g.href)}`);
    if (g.id !== w.id.slice(0, 7)) wrong.push(`a.id ${show(g.id)}`);
    if (g.subject !== w.subject) wrong.push(`subject ${show(g.subject)} (git ${show(w.subject)})`);
    if (g.author !== w.author) wrong.push(`author ${show(g.author)} (git ${show(w.author)})`);
    const t = Date.parse(g.datetime);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(g.datetime || '')) wrong.push(`datetime ${show(g.datetime)} is not RFC 3339`);
    else if (t === w.at * 1000) datesSeen.author += 1;
    else if (t === w.ct * 1000) datesSeen.committer += 1;
    else wrong.push(`datetime ${g.datetime}, git: author ${new Date(w.at * 1000).toISOString()}, committer ${new Date(w.ct * 1000).toISOString()}`);
    if (wrong.length) problems.push(`#${i} ${w.id}: ${wrong.join('; ')}`);
  }
  return problems;
}

// Every page of a log from URL (at most MAX pages), against git log REVS [-- PATH].
async function logProblems(repo, git, url, revs, p, max = 100, visitPair = pair) {
  const problems = [];
  let want = gitLog(git, revs, p);
  const got = [];
  let next = url;
  let pages = 0;
  while (next && pages < max) {
    const page = await visit(next, visitPair);
    pages += 1;
    if (page.status !== 200 || !page.log) return [`${next}: status ${page.status}, ol.log ${page.log ? 'present' : 'missing'} ${page.error || ''}`];
    if (page.next && page.log.length !== 30) problems.push(`${next}: ${page.log.length} commits on a page with a next link (30 expected)`);
    if (!page.next && page.log.length > 30) problems.push(`${next}: ${page.log.length} commits on one page`);
    got.push(...page.log);
    next = page.next;
  }
  if (next) want = want.slice(0, got.length);
  else if (want.length > 30 * pages) problems.push(`no rel=next after ${pages} pages and ${got.length} commits; git log has ${want.length}`);
  return [...problems, ...logEntryProblems(repo, got, want)];
}

async function commitProblems(repo, git, id, visitPair = pair, limit = 1000) {
  const url = pageUrl(repo, 'commit', id);
  const page = await visit(url, visitPair);
  if (page.status !== 200) return status(page, 200, url);
  const problems = [];
  const msg = message(git, id);
  if (page.message === null) problems.push('no pre.message');
  else if (page.message.replace(/\n+$/, '') !== msg.replace(/\n+$/, '')) problems.push(`pre.message ${show(page.message)}, git ${show(msg)}`);
  const [an, cn] = git(['log', '-1', '--format=%an%x00%cn', id]).trim().split('\0');
  if (!page.meta) problems.push('no dl.meta');
  else {
    if (!page.meta.text.includes(an)) problems.push(`dl.meta lacks the author ${show(an)}: ${show(page.meta.text)}`);
    if (!page.meta.text.includes(cn)) problems.push(`dl.meta lacks the committer ${show(cn)}`);
    const parents = git(['rev-list', '--parents', '-n', '1', id]).trim().split(' ').slice(1);
    const hrefs = page.meta.parents;
    if (hrefs.length !== parents.length || hrefs.some((h, i) => !h.endsWith(parents[i]))) problems.push(`a.parent ${show(hrefs)}, git ${show(parents)}`);
  }
  const parent = git(['rev-list', '--parents', '-n', '1', id]).trim().split(' ')[1] || EMPTY_TREE;
  return [...problems, ...diffProblems(page, git, parent, id, limit)];
}

async function compareProblems(repo, git, a, b) {
  const url = `${BASE}/${repo}/-/compare/${enc(a)}...${enc(b)}`;
  const page = await visit(url);
  if (page.status !== 200) return status(page, 200, url);
  const want = gitLog(git, [`${revParse(git, a)}..${revParse(git, b)}`]);
  const problems = page.log ? logEntryProblems(repo, page.log, want) : ['no ol.log'];
  const base = git(['merge-base', a, b]).trim();
  return [...problems, ...diffProblems(page, git, base, revParse(git, b))];
}

function refsWant(git, prefix) {
  return git(['for-each-ref', '--format=%(refname:lstrip=2)%00%(objectname)%00%(*objectname)', prefix])
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, oid, peeled] = l.split('\0');
      const id = peeled || oid;
      return { name, id, ct: Number(git(['log', '-1', '--format=%ct', id]).trim()) };
    });
}

// ---- the checks

const R = cfg.repo;
const g = gitIn(cfg.src);
const main = revParse(g, 'main');
// git trims the name's last ';' (and drops any < >): what git says it is.
const HOSTILE_AUTHOR = g(['log', '-1', '--format=%an', 'v0.1']).trim();
const several = g(['log', '--format=%H', '--grep=^Several hunks', 'main']).trim();
const started = Date.now();

await check('static: style.css (text/css) and pages.js (javascript) answer 200', async () => {
  const problems = [];
  for (const [p, type] of [['/-/static/style.css', /^text\/css/], ['/-/static/pages.js', /javascript/]]) {
    const r = await get(`${BASE}${p}`);
    if (r.status !== 200 || !type.test(r.headers.get('content-type') || '')) problems.push(`${p}: ${r.status} ${r.headers.get('content-type')}`);
  }
  return problems;
});

// Summary.
const summaryUrl = `${BASE}/${R}`;
await check(`summary ${R}: README rendered, root tree = git ls-tree -l main, latest, counts, clone URL`, async () => {
  const page = await visit(summaryUrl);
  if (page.status !== 200) return status(page, 200, summaryUrl);
  const problems = treeProblems(page, g, 'main', '', R);
  if (!page.readme || !page.readme.markdown) problems.push(`section.readme ${show(page.readme)} (article.markdown expected)`);
  else {
    for (const t of ['Demo repository', 'Hostile section', 'stays inert', 'echo "hello" && exit 0', 'intro']) {
      if (!page.readme.text.includes(t)) problems.push(`README text lacks ${show(t)}`);
    }
  }
  const headings = page.markdown ? page.markdown.headings : [];
  for (const h of [['h1', 'Demo repository'], ['h2', 'Hostile section'], ['h3', 'Code']]) {
    if (!headings.some((x) => x[0] === h[0] && x[1] === h[1])) problems.push(`no <${h[0]}>${h[1]} in the README (${show(headings)})`);
  }
  const heads = g(['for-each-ref', '--format=x', 'refs/heads']).split('\n').filter(Boolean).length;
  const tags = g(['for-each-ref', '--format=x', 'refs/tags']).split('\n').filter(Boolean).length;
  if (page.counts.branches !== String(heads) || page.counts.tags !== String(tags)) problems.push(`span.branches/tags ${show(page.counts)}, git ${heads}/${tags}`);
  if (!page.clone || page.clone.tag !== 'input' || page.clone.value !== `${BASE}/${R}.git` || !page.clone.readonly) problems.push(`#clone-url ${show(page.clone)}, expected a readonly input with ${BASE}/${R}.git`);
  if (page.copy !== 'button') problems.push(`button#copy type ${show(page.copy)}`);
  return problems;
});
await check(`summary ${R}.git shows the same page`, async () => {
  const page = await visit(`${BASE}/${R}.git`);
  const first = seen.get(summaryUrl);
  if (page.status !== 200) return status(page, 200, `${BASE}/${R}.git`);
  return page.mainText === first.mainText ? [] : [firstDifference(page.mainText, first.mainText)];
});
await check('summary README: the relative link opens docs/guide.md, the image loads, the javascript: link is inert', async () => {
  const page = seen.get(summaryUrl);
  const problems = [];
  const links = page.markdown ? page.markdown.links : [];
  const rel = links.find((l) => l.text === 'relative link to the guide');
  if (!rel) problems.push(`no link "relative link to the guide" (${show(links)})`);
  else {
    const target = await visit(rel.url);
    if (target.status !== 200 || !(target.mainText || '').includes('Read me first.')) problems.push(`the relative link ${rel.href} -> ${rel.url}: ${target.status}, ${show((target.mainText || '').slice(0, 120))}`);
  }
  const js = links.find((l) => l.text === 'javascript link');
  if (js && js.href && /^\s*javascript:/i.test(js.href)) problems.push(`the javascript link keeps href ${js.href}`);
  const img = page.images.find((i) => i.alt === 'the logo');
  if (!img) problems.push(`no img "the logo" (${show(page.images)})`);
  else if (!img.complete || img.width !== 24) problems.push(`the logo did not load: ${show(img)}`);
  else {
    const r = await get(img.url);
    if (Buffer.compare(r.body, g(['cat-file', 'blob', 'main:img/logo.png'], { buffer: true })) !== 0) problems.push(`${img.url} is not img/logo.png`);
  }
  return problems;
});
await check('summary: button#copy puts the clone URL on the clipboard (pages.js)', async () => {
  await js.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await js.page.goto(summaryUrl);
  await js.page.click('#copy');
  await js.page.waitForTimeout(200);
  const copied = await js.page.evaluate(() => navigator.clipboard.readText());
  return copied === `${BASE}/${R}.git` ? [] : [`clipboard ${show(copied)}`];
});

// Trees.
const dirs = lsTree(g, 'main', '', true, true).filter((e) => e.type === 'tree').map((e) => e.name);
const treeCases = [
  ['main', ''],
  ...dirs.map((d) => ['main', d]),
  ['feature/x', ''],
  ['feature/x', 'docs'],
  ['feature/x', 'docs/feature'],
  ['v1.0', ''],
  ['v0.1', 'src'],
  [main, ''],
  [main, 'src/lib/deep'],
  ['<svg/onload=alert(1)>', ''],
  [HOSTILE_BRANCH, 'dir with space'],
];
for (const [rev, dir] of treeCases) {
  await check(`tree ${rev}${dir ? ` ${dir}` : ''}: rows = git ls-tree -l, links, latest commit${dir ? ', crumbs' : ''}`, async () => {
    const url = pageUrl(R, 'tree', rev, dir);
    const page = await visit(url);
    if (page.status !== 200) return status(page, 200, url);
    const problems = treeProblems(page, g, rev, dir, R);
    if (dir) {
      if (!page.crumbs || page.crumbs.label !== 'path') problems.push(`nav.crumbs ${show(page.crumbs)}`);
      else for (const part of dir.split('/')) if (!page.crumbs.text.includes(part)) problems.push(`crumbs lack ${show(part)}: ${show(page.crumbs.text)}`);
    }
    return problems;
  });
}
await check('tree main: every link of the root and of two directories answers 200', async () => {
  const problems = [];
  for (const dir of ['', 'dir with space', 'src/lib/deep/nested']) {
    for (const row of seen.get(pageUrl(R, 'tree', 'main', dir)).tree) {
      if (!row.href) continue;
      const r = await get(new URL(row.href, BASE).href);
      if (r.status !== 200) problems.push(`${row.href}: ${r.status}`);
    }
  }
  return problems;
});
await check('tree main: details.switch lists every branch as a link (tags too, or a link to the refs page); the hostile branch link works', async () => {
  const page = seen.get(pageUrl(R, 'tree', 'main', ''));
  if (!page.switcher) return ['no details.switch'];
  const problems = [];
  const texts = page.switcher.map((a) => a.text);
  for (const n of refsWant(g, 'refs/heads').map((r) => r.name)) if (!texts.includes(n)) problems.push(`no link ${show(n)} in ${show(texts)}`);
  const tags = refsWant(g, 'refs/tags').map((r) => r.name);
  const refsLink = page.switcher.some((a) => new URL(a.url).pathname === `/${R}/-/refs`);
  if (!tags.every((n) => texts.includes(n)) && !refsLink) problems.push(`neither every tag nor a link to the refs page in ${show(texts)}`);
  if (!tags.every((n) => texts.includes(n))) note('details.switch: tags through the refs page');
  const hostile = page.switcher.find((a) => a.text === HOSTILE_BRANCH);
  if (hostile) {
    const target = await visit(hostile.url);
    if (target.status !== 200 || !target.tree) problems.push(`${hostile.url}: ${target.status}`);
    else problems.push(...treeProblems(target, g, HOSTILE_BRANCH, '', R));
  }
  return problems;
});

// Blobs: every file of main, and two of feature/x.
const isImage = (p) => /\.(png|jpe?g|gif|webp|svg)$/i.test(p);
const isMarkdown = (p) => /\.(md|markdown)$/i.test(p);
async function blobProblems(repo, git, rev, p, visitPair = pair) {
  const bytes = git(['cat-file', 'blob', `${rev}:${p}`], { buffer: true });
  const url = pageUrl(repo, 'blob', rev, p);
  const page = await visit(url, visitPair);
  if (page.status !== 200) return status(page, 200, url);
  const problems = [];
  const rawOk = async (links, what) => {
    const raw = links.find((l) => new URL(l).pathname.includes('/-/raw/'));
    if (!raw) return problems.push(`${what}: no link to raw (${show(links)})`);
    const r = await get(raw, visitPair.auth ? { authorization: visitPair.auth } : {});
    if (Buffer.compare(r.body, bytes) !== 0) problems.push(`${raw}: ${r.status}, not the file's bytes`);
  };
  const text = bytes.toString('latin1');
  if (isImage(p)) {
    const img = page.images.find((i) => new URL(i.url).pathname.includes('/-/raw/'));
    if (!img) problems.push(`no <img> from raw (${show(page.images)})`);
    else {
      if (!img.complete || img.width === 0) problems.push(`the image did not load: ${show(img)}`);
      await rawOk([img.url], 'img');
    }
    if (page.blob && page.blob.length) problems.push('an image shown as lines');
  } else if (text.startsWith('version https://git-lfs.github.com/spec/v1\n')) {
    const oid = /oid sha256:([0-9a-f]{64})/.exec(text)[1];
    const size = /size (\d+)/.exec(text)[1];
    if (!page.lfs || !page.lfs.text.includes(oid) || !page.lfs.text.includes(size)) problems.push(`p.lfs ${show(page.lfs)}, expected ${oid} and ${size}`);
  } else if (bytes.length > 1 << 20) {
    if (!page.large) problems.push('no p.large');
    else await rawOk(page.large.links, 'p.large');
    if (page.blob && page.blob.length) problems.push(`a large file shown as ${page.blob.length} lines`);
  } else if (bytes.subarray(0, 8000).includes(0)) {
    if (!page.binary) problems.push('no p.binary');
    else await rawOk(page.binary.links, 'p.binary');
    if (page.blob && page.blob.length) problems.push('a binary file shown as lines');
  } else if (isMarkdown(p)) {
    if (!page.markdown) problems.push('no article.markdown');
    if (!page.plain.length) problems.push('no ?plain=1 link');
    else {
      const plain = await visit(page.plain[0], visitPair);
      if (plain.status !== 200) problems.push(`${page.plain[0]}: ${plain.status}`);
      else problems.push(...blobLineProblems(plain, bytes).map((s) => `?plain=1: ${s}`));
    }
  } else {
    problems.push(...blobLineProblems(page, bytes));
  }
  return problems;
}
const files = lsTree(g, 'main', '', true).filter((e) => e.type === 'blob');
for (const f of files) {
  await check(`blob main ${f.name} (${f.mode}, ${f.size.trim()} bytes) = git cat-file blob`, () => blobProblems(R, g, 'main', f.name));
}
for (const [rev, p] of [['feature/x', 'feature.txt'], ['feature/x', 'docs/feature/deep.md'], ['v1.0', 'notes.txt'], [main, 'src/main.rs']]) {
  await check(`blob ${rev} ${p} = git cat-file blob`, () => blobProblems(R, g, rev, p));
}
await check('blob src/main.rs is highlighted (span.k|s|c|n)', () => {
  const page = seen.get(pageUrl(R, 'blob', 'main', 'src/main.rs'));
  return page.highlighted > 0 ? [] : ['no highlighting spans (allowed by the spec: "maybe")'];
});
await check('raw: every file of main (and one at the full id) = git cat-file blob', async () => {
  const problems = [];
  for (const f of [...files.map((f) => ['main', f.name]), [main, HOSTILE_FILE]]) {
    const url = pageUrl(R, 'raw', f[0], f[1]);
    const r = await get(url);
    if (r.status !== 200 || Buffer.compare(r.body, g(['cat-file', 'blob', `${f[0]}:${f[1]}`], { buffer: true })) !== 0) problems.push(`${url}: ${r.status}, ${r.body.length} bytes`);
  }
  return problems;
});

// Logs.
const logCases = [
  [pageUrl(R, 'commits', 'main'), ['main'], undefined, 'commits/main, every page'],
  [`${BASE}/${R}/-/commits`, ['HEAD'], undefined, 'commits (HEAD), every page'],
  [pageUrl(R, 'commits', 'feature/x'), ['feature/x'], undefined, 'commits/feature/x'],
  [pageUrl(R, 'commits', 'v1.0'), ['v1.0'], undefined, 'commits/v1.0 (an annotated tag)'],
  [pageUrl(R, 'commits', HOSTILE_BRANCH), [HOSTILE_BRANCH], undefined, `commits/${HOSTILE_BRANCH}`],
  [pageUrl(R, 'commits', main), [main], undefined, 'commits/<full id>'],
];
for (const p of ['notes.txt', HOSTILE_FILE, 'docs', 'dir with space/ünïcödé file.txt', 'counter.txt']) {
  logCases.push([`${pageUrl(R, 'commits', 'main')}?path=${encodeURIComponent(p)}`, ['main'], p, `commits/main?path=${p}`]);
}
for (const [url, revs, p, name] of logCases) {
  await check(`log ${name} = git log ${revs.join(' ')}${p ? ` -- ${p}` : ''}`, () => logProblems(R, g, url, revs, p));
}

// Commits: all but most of the counters.
const commits = g(['rev-list', '--all', '--topo-order']).trim().split('\n');
const chosen = commits.filter((id, i) => !/^counter \d+/.test(g(['log', '-1', '--format=%s', id])) || i < 3 || i > commits.length - 2);
for (const id of new Set([main, ...chosen])) {
  const subject = g(['log', '-1', '--format=%s', id]).trim();
  await check(`commit ${id.slice(0, 12)} (${subject.slice(0, 50)}): message, parents, diff = git diff --raw/--numstat/-U3`, () => commitProblems(R, g, id));
}

// Compare.
for (const [a, b] of [['main', 'feature/x'], ['feature/x', 'main'], ['v0.1', 'v1.0'], ['topic', 'main'], ['<b>bold', HOSTILE_BRANCH]]) {
  await check(`compare ${a}...${b} = git log ${a}..${b}, git diff ${a}...${b}`, () => compareProblems(R, g, a, b));
}

// Refs.
await check('refs: table#branches and table#tags = git for-each-ref (names, ids, committer dates)', async () => {
  const url = `${BASE}/${R}/-/refs`;
  const page = await visit(url);
  if (page.status !== 200) return status(page, 200, url);
  const problems = [];
  for (const [kind, prefix] of [['branches', 'refs/heads'], ['tags', 'refs/tags']]) {
    const want = refsWant(g, prefix);
    const got = page[kind];
    if (!got) {
      problems.push(`no table.refs#${kind}`);
      continue;
    }
    const sorted = (xs) => [...xs].sort((x, y) => (x.name < y.name ? -1 : 1));
    const gs = sorted(got);
    const ws = sorted(want);
    if (show(got.map((r) => r.name)) !== show(want.map((r) => r.name))) {
      if (show(gs.map((r) => r.name)) === show(ws.map((r) => r.name))) note(`refs: ${kind} in another order than git for-each-ref: ${show(got.map((r) => r.name))}`);
      else problems.push(`${kind}: ${show(got.map((r) => r.name))}, git ${show(want.map((r) => r.name))}`);
    }
    for (const w of ws) {
      const r = got.find((x) => x.name === w.name);
      if (!r) continue;
      const wrong = [];
      if (r.id !== w.id.slice(0, 7)) wrong.push(`td.id ${show(r.id)}`);
      if (!r.href || !r.href.endsWith(w.id)) wrong.push(`href ${show(r.href)}`);
      if (Date.parse(r.date) !== w.ct * 1000) wrong.push(`date ${show(r.date)}, git ${new Date(w.ct * 1000).toISOString()}`);
      if (wrong.length) problems.push(`${kind} ${w.name} (${w.id}): ${wrong.join('; ')}`);
    }
  }
  return problems;
});

// Hostile text, shown as text.
await check('hostile names, messages and authors appear as text (td.name, span.subject, span.author, pre.message, td.line)', async () => {
  const problems = [];
  const root = seen.get(pageUrl(R, 'tree', 'main', ''));
  if (!root.tree.some((r) => r.name === HOSTILE_FILE)) problems.push(`no td.name ${show(HOSTILE_FILE)}`);
  const refs = seen.get(`${BASE}/${R}/-/refs`);
  for (const n of [HOSTILE_BRANCH, '<b>bold']) if (!(refs.branches || []).some((r) => r.name === n)) problems.push(`no branch td.name ${show(n)}`);
  if (!(refs.tags || []).some((r) => r.name === '<svg/onload=alert(1)>')) problems.push('no tag td.name "<svg/onload=alert(1)>"');
  const log = seen.get(pageUrl(R, 'commits', 'main'));
  const all = [...(log.log || [])];
  const second = log.next && seen.get(log.next);
  if (second) all.push(...(second.log || []));
  if (!all.some((c) => c.subject === '<script>alert(1)</script> add hostile names')) problems.push('no span.subject "<script>alert(1)</script> add hostile names"');
  if (!all.some((c) => c.author === HOSTILE_AUTHOR)) problems.push(`no span.author ${show(HOSTILE_AUTHOR)}`);
  const hostile = revParse(g, 'v0.1');
  const commit = seen.get(pageUrl(R, 'commit', hostile));
  if (!commit.message || !commit.message.includes('and <img src=x onerror=alert(1)> in the body')) problems.push(`pre.message ${show(commit.message)}`);
  const blob = seen.get(pageUrl(R, 'blob', 'main', HOSTILE_FILE));
  if (!blob.blob || !blob.blob.some((r) => r.line === '<script>alert(1)</script>')) problems.push('no td.line "<script>alert(1)</script>"');
  return problems;
});

// Errors.
for (const [url, want, what] of [
  [pageUrl(R, 'tree', 'no-such-rev'), [404], 'an unknown revision'],
  [pageUrl(R, 'tree', 'main', 'no/such/dir'), [404], 'a missing directory'],
  [pageUrl(R, 'blob', 'main', 'no-such-file.txt'), [404], 'a missing file'],
  [pageUrl(R, 'commit', '0'.repeat(40)), [404], 'an unknown commit id'],
  [pageUrl(R, 'commits', 'no-such-rev'), [404], 'the log of an unknown revision'],
  [`${BASE}/${R}/-/compare/main..topic`, [400, 404], 'a comparison without "..."'],
]) {
  await check(`error page for ${what}: ${want.join(' or ')}, HTML with p.error`, async () => {
    const page = await visit(url);
    const problems = [];
    if (!want.includes(page.status)) problems.push(`${url}: status ${page.status}`);
    if (!page.error || !page.error.trim()) problems.push(`${url}: no p.error (${show(page.bodyText)})`);
    return problems;
  });
}

// Caching.
await check('cache: pages naming full ids are "public, max-age=31536000, immutable"', async () => {
  const problems = [];
  const first = revParse(g, 'v0.1');
  for (const url of [
    pageUrl(R, 'commit', main),
    pageUrl(R, 'tree', main),
    pageUrl(R, 'tree', main, 'src/lib'),
    pageUrl(R, 'blob', main, 'README.md'),
    pageUrl(R, 'commits', main),
    `${BASE}/${R}/-/compare/${first}...${main}`,
    pageUrl(R, 'raw', main, 'notes.txt'),
  ]) {
    const r = await get(url);
    if (r.status !== 200 || r.headers.get('cache-control') !== IMMUTABLE) problems.push(`${url}: ${r.status}, cache-control ${show(r.headers.get('cache-control'))}`);
  }
  return problems;
});
const refPages = [summaryUrl, pageUrl(R, 'tree', 'main'), pageUrl(R, 'tree', 'feature/x', 'docs'), pageUrl(R, 'blob', 'main', 'README.md'), pageUrl(R, 'commits', 'main'), `${BASE}/${R}/-/refs`, pageUrl(R, 'commit', 'main'), `${BASE}/${R}/-/compare/main...feature/x`];
const etags = new Map();
const cacheNotes = new Set();
// Cache-Control that makes a cache ask every time: no-cache, and nothing that lets it keep the page.
const noCache = (cc) => {
  const d = cc.split(',').map((x) => x.trim().toLowerCase());
  return d.includes('no-cache') && !d.some((x) => x === 'immutable' || x === 'public' || (/^(s-)?max-age=/.test(x) && x !== 'max-age=0' && x !== 's-maxage=0'));
};
await check('cache: pages naming refs carry an ETag and "no-cache", and answer 304 to If-None-Match', async () => {
  const problems = [];
  for (const url of refPages) {
    const r = await get(url);
    const etag = r.headers.get('etag');
    const cc = r.headers.get('cache-control') || '';
    if (cc !== 'no-cache') cacheNotes.add(cc);
    if (r.status !== 200 || !etag || !noCache(cc)) {
      problems.push(`${url}: ${r.status}, etag ${show(etag)}, cache-control ${show(r.headers.get('cache-control'))}`);
      continue;
    }
    etags.set(url, etag);
    const again = await get(url, { 'if-none-match': etag });
    if (again.status !== 304) problems.push(`${url}: If-None-Match ${etag} -> ${again.status}`);
    else if (again.body.length) problems.push(`${url}: a 304 with a body`);
  }
  for (const cc of cacheNotes) note(`ref-named pages: Cache-Control ${show(cc)} (the spec says "no-cache")`);
  return problems;
});

// Private.
const P = cfg.private;
await check(`private ${P}: anonymous pages answer 401 with WWW-Authenticate: Basic, and show nothing of the repository`, async () => {
  const problems = [];
  for (const url of [`${BASE}/${P}`, pageUrl(P, 'tree', 'main'), pageUrl(P, 'blob', 'main', 'README.md'), pageUrl(P, 'commits', 'main'), pageUrl(P, 'commit', main), `${BASE}/${P}/-/refs`, pageUrl(P, 'raw', 'main', 'README.md')]) {
    const r = await get(url);
    const www = r.headers.get('www-authenticate') || '';
    if (r.status !== 401 || !/^Basic realm=/i.test(www)) problems.push(`${url}: ${r.status}, www-authenticate ${show(www)}`);
    if (r.body.toString().includes('Demo repository') || r.body.toString().includes(main.slice(0, 7))) problems.push(`${url}: the 401 shows the repository's content`);
  }
  // In a browser without credentials: the 401 (Chromium, asked for credentials it lacks,
  // ends the navigation with ERR_INVALID_AUTH_CREDENTIALS).
  const context = await browser.newContext();
  const anon = await context.newPage();
  try {
    const r = await anon.goto(`${BASE}/${P}`);
    if (r.status() !== 401) problems.push(`in the browser without credentials: ${r.status()}`);
    if ((await anon.content()).includes('Demo repository')) problems.push('the browser without credentials shows the README');
  } catch (e) {
    if (!/ERR_INVALID_AUTH_CREDENTIALS/.test(e.message)) problems.push(`in the browser without credentials: ${e.message.split('\n')[0]}`);
  }
  await context.close();
  return problems;
});
const privPairs = [];
for (const [label, creds] of [['x:token', { username: 'x', password: cfg.token }], ['token as the user name', { username: cfg.token, password: '' }]]) {
  await check(`private ${P} with credentials (${label}): summary, tree, blob, log and commit pages`, async () => {
    const a = await tab({ httpCredentials: creds }, `private-js`);
    const b = await tab({ httpCredentials: creds, javaScriptEnabled: false }, `private-nojs`);
    const pp = { js: a.page, nojs: b.page, repo: P, auth: AUTH };
    privPairs.push(a, b);
    const url = `${BASE}/${P}`;
    const page = await visit(url, pp);
    if (page.status !== 200) return status(page, 200, url);
    const problems = treeProblems(page, g, 'main', '', P);
    if (!page.readme || !page.readme.text.includes('Demo repository')) problems.push(`section.readme ${show(page.readme && page.readme.text.slice(0, 100))}`);
    if (label !== 'x:token') return problems;
    problems.push(...(await blobProblems(P, g, 'main', 'notes.txt', pp)));
    problems.push(...(await logProblems(P, g, pageUrl(P, 'commits', 'main'), ['main'], undefined, 1, pp)));
    problems.push(...(await commitProblems(P, g, several, pp)));
    return problems;
  });
}
await check(`private ${P}: a full id is "private, max-age=31536000, immutable", a ref ETag + 304`, async () => {
  const problems = [];
  const auth = { authorization: AUTH };
  const r = await get(pageUrl(P, 'commit', main), auth);
  if (r.status !== 200 || r.headers.get('cache-control') !== PRIVATE_IMMUTABLE) problems.push(`commit/<id>: ${r.status}, cache-control ${show(r.headers.get('cache-control'))}`);
  const t = await get(pageUrl(P, 'tree', 'main'), auth);
  const etag = t.headers.get('etag');
  if (t.status !== 200 || !etag) problems.push(`tree/main: ${t.status}, etag ${show(etag)}`);
  else if ((await get(pageUrl(P, 'tree', 'main'), { ...auth, 'if-none-match': etag })).status !== 304) problems.push('tree/main: no 304');
  if (!/^(private|no-cache)/.test(t.headers.get('cache-control') || '')) problems.push(`tree/main: cache-control ${show(t.headers.get('cache-control'))}`);
  return problems;
});

// Empty.
await check(`empty ${cfg.empty}: section.empty with git remote add origin and git push -u origin main`, async () => {
  const url = `${BASE}/${cfg.empty}`;
  const page = await visit(url, { ...pair, repo: cfg.empty });
  if (page.status !== 200) return status(page, 200, url);
  const problems = [];
  for (const t of [`git remote add origin ${BASE}/${cfg.empty}.git`, 'git push -u origin main']) if (!(page.empty || '').includes(t)) problems.push(`section.empty lacks ${show(t)}: ${show(page.empty)}`);
  return problems;
});

// go-git's history.
if (cfg.gogit) {
  const G = cfg.gogit.repo;
  const gg = gitIn(cfg.gogit.src);
  const branch = gg(['symbolic-ref', '--short', 'HEAD']).trim();
  const tip = revParse(gg, branch);
  const t0 = Date.now();
  await check(`go-git: log ${branch}, 4 pages = git log`, () => logProblems(G, gg, pageUrl(G, 'commits', branch), [branch], undefined, 4, { ...pair, repo: G }));
  await check(`go-git: log ${branch}?path=plumbing/object/commit.go, first page = git log -- path`, () =>
    logProblems(G, gg, `${pageUrl(G, 'commits', branch)}?path=plumbing%2Fobject%2Fcommit.go`, [branch], 'plumbing/object/commit.go', 1, { ...pair, repo: G }),
  );
  for (const dir of ['', 'plumbing/object']) {
    await check(`go-git: tree ${branch} ${dir || '(root)'} = git ls-tree -l, latest`, async () => {
      const url = pageUrl(G, 'tree', branch, dir);
      const page = await visit(url, { ...pair, repo: G });
      return page.status !== 200 ? status(page, 200, url) : treeProblems(page, gg, branch, dir, G);
    });
  }
  const recent = gg(['log', '--no-merges', '--format=%H', '-n', '60', branch]).trim().split('\n');
  const sized = recent.map((id) => [id, gg(['diff-tree', '--no-commit-id', '-r', '--root', id]).split('\n').filter(Boolean).length]);
  const many = sized.filter(([, n]) => n <= 40).sort((x, y) => y[1] - x[1]).slice(0, 2).map(([id]) => id);
  const gitParents = gg(['rev-list', '--parents', '-n', '1', tip]).trim().split(' ').slice(1);
  for (const id of new Set([tip, ...gitParents.slice(1), recent[0], ...many])) {
    await check(`go-git: commit ${id.slice(0, 12)} (${gg(['log', '-1', '--format=%s', id]).trim().slice(0, 50)}) = git`, () => commitProblems(G, gg, id, { ...pair, repo: G }));
  }
  note(`go-git pages took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

// The aggregated checks over every page opened.
report(`no dialog, console error or page error in ${visits} page loads`, incidents);
for (const f of favicon) note(`ignored: /favicon.ico: ${f}`);
report('no injected script, event handler, javascript: URL, frame, form or style in any page', hazards);
report('every page is the same without JavaScript (javaScriptEnabled: false)', scriptDifferences);
// [url, problem] pairs, one line per problem: how many pages, and the first.
const grouped = (pairs) => {
  const by = new Map();
  for (const [url, problem] of pairs) by.set(problem, [...(by.get(problem) || []), url]);
  return [...by].map(([problem, urls]) => `${problem} (${urls.length} page${urls.length > 1 ? 's' : ''}, e.g. ${urls[0]})`);
};
report('every page: text/html; charset=utf-8, a CSP without unsafe-inline, nosniff', grouped(headerProblems));
report('every page: the CSP is exactly the spec\'s', grouped(policyProblems));
report('every page: header h1 a to /o/r/, nav Summary/Files/Commits/Refs, main', grouped(markupProblems.map(([u, m]) => [u, m.replace(/-\d+(\.git)?\b/g, '-N$1')])));
note(`log dates matched: author ${datesSeen.author}, committer ${datesSeen.committer}`);

// Screenshots (and, on the way, the layout of line numbers).
const wrappedNumbers = [];
await check('screenshots: each kind of page, light and dark, desktop and phone', async () => {
  fs.mkdirSync(cfg.artifacts, { recursive: true });
  const kinds = {
    summary: summaryUrl,
    tree: pageUrl(R, 'tree', 'main', 'src'),
    blob: pageUrl(R, 'blob', 'main', 'src/main.rs'),
    text: pageUrl(R, 'blob', 'main', 'notes.txt'),
    markdown: pageUrl(R, 'blob', 'main', 'README.md'),
    image: pageUrl(R, 'blob', 'main', 'img/logo.png'),
    binary: pageUrl(R, 'blob', 'main', 'bin/data.bin'),
    log: pageUrl(R, 'commits', 'main'),
    commit: pageUrl(R, 'commit', several),
    compare: `${BASE}/${R}/-/compare/main...feature/x`,
    refs: `${BASE}/${R}/-/refs`,
    error: pageUrl(R, 'tree', 'no-such-rev'),
    empty: `${BASE}/${cfg.empty}`,
  };
  const phone = await tab({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }, 'phone');
  const problems = [];
  let written = 0;
  const wide = [];
  const samebg = [];
  for (const [kind, url] of Object.entries(kinds)) {
    const bg = {};
    for (const [device, page] of [['desktop', js.page], ['phone', phone.page]]) {
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(url, { waitUntil: 'load' });
        const file = path.join(cfg.artifacts, `${kind}-${scheme}-${device}.png`);
        await page.screenshot({ path: file, fullPage: true });
        written += fs.existsSync(file) ? 1 : 0;
        const m = await page.evaluate(() => ({
          bg: getComputedStyle(document.body).backgroundColor,
          width: document.documentElement.scrollWidth,
          // Line-number cells whose number breaks over lines (a range over the cell's
          // contents has boxes at several heights).
          wrapped: [...document.querySelectorAll('td.num, td.old, td.new')]
            .filter((td) => td.textContent.trim())
            .filter((td) => {
              const range = document.createRange();
              range.selectNodeContents(td);
              return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size > 1;
            })
            .map((td) => `${td.className} ${td.textContent.trim()}`),
        }));
        if (m.wrapped.length) wrappedNumbers.push(`${kind} ${device} ${scheme}: ${m.wrapped.length} cells, e.g. ${m.wrapped.slice(0, 4).join(', ')}`);
        bg[`${device}-${scheme}`] = m.bg;
        if (device === 'phone' && m.width > 390) wide.push(`${kind} ${scheme} (${m.width}px)`);
      }
    }
    if (bg['desktop-light'] === bg['desktop-dark']) samebg.push(kind);
  }
  await phone.context.close();
  await js.page.emulateMedia({ colorScheme: 'light' });
  if (samebg.length) note(`the same body background in light and dark: ${samebg.join(', ')}`);
  if (wide.length) note(`wider than a 390 px phone (the page scrolls sideways): ${wide.join(', ')}`);
  note(`${written} screenshots in ${cfg.artifacts}`);
  if (written !== Object.keys(kinds).length * 4) problems.push(`${written} screenshots written`);
  return problems;
});

report('layout: line numbers (td.num, td.old, td.new) stay on one line, desktop and phone', wrappedNumbers);

// Last: a push moves main; the old ETags no longer match.
await check('cache: after a push to main, the ETags of ref-named pages change (no 304 for the old ones)', async () => {
  const env = { ...process.env, GIT_AUTHOR_DATE: '@1800000000 +0000', GIT_COMMITTER_DATE: '@1800000000 +0000' };
  const id = execFileSync('git', ['-C', cfg.src, 'commit-tree', `${main}^{tree}`, '-p', main, '-m', 'one more'], { env, encoding: 'utf8' }).trim();
  const host = new URL(BASE);
  execFileSync('git', ['-C', cfg.src, '-c', 'credential.helper=', 'push', '-q', `${host.protocol}//x:${cfg.token}@${host.host}/${R}.git`, `${id}:refs/heads/main`], { stdio: 'pipe' });
  const problems = [];
  for (const url of [summaryUrl, pageUrl(R, 'tree', 'main'), pageUrl(R, 'commits', 'main'), `${BASE}/${R}/-/refs`, pageUrl(R, 'commit', 'main')]) {
    const old = etags.get(url);
    if (!old) continue;
    const r = await get(url, { 'if-none-match': old });
    if (r.status !== 200) problems.push(`${url}: the old ETag ${old} still answers ${r.status}`);
    else if (!r.body.toString().includes(id)) problems.push(`${url}: does not name the new tip ${id}`);
  }
  return problems;
});

await check('cache: after PATCH api/settings default_branch, the summary and HEAD log no longer answer 304 to their old ETags', async () => {
  const problems = [];
  const feature = revParse(g, 'feature/x');
  const urls = [summaryUrl, `${BASE}/${R}/-/commits`];
  const old = [];
  for (const url of urls) old.push((await get(url)).headers.get('etag'));
  const patch = async (branch) => {
    const r = await fetch(`${BASE}/${R}.git/api/settings`, {
      method: 'PATCH',
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ default_branch: branch }),
    });
    if (r.status !== 200) problems.push(`PATCH default_branch ${branch}: ${r.status} ${await r.text()}`);
  };
  await patch('feature/x');
  for (const [i, url] of urls.entries()) {
    const r = await get(url, old[i] ? { 'if-none-match': old[i] } : {});
    if (r.status !== 200) problems.push(`${url}: the ETag from before (${old[i]}) answers ${r.status}`);
    else if (!r.body.toString().includes(feature)) problems.push(`${url}: does not name feature/x's tip ${feature}`);
  }
  await patch('main');
  return problems;
});

for (const t of privPairs) await t.context.close();
await browser.close();
note(`${visits} page loads in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`pages.mjs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
