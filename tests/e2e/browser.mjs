// isomorphic-git in a real headless Chromium against the server, from a page of another
// origin, so that every request goes through CORS as a browser app's would.
//
// Usage: node tests/e2e/browser.mjs REPO_URL [TOKEN]
//   In the page (served on localhost:<free port>, the server being 127.0.0.1): makes a
//   commit in LightningFS, pushes it to REPO_URL without credentials, then (with TOKEN)
//   again with onAuth answering TOKEN as the password, then clones REPO_URL into a fresh
//   file system and reads the file back. Prints one JSON object:
//     {"anonymous": <error code of the push without credentials, or "ok">,
//      "pushed": <isomorphic-git's push result, or an error code>, "auth_calls": N,
//      "commit": <id>, "cloned": <the file's text read from the clone, or an error code>}
//   Exits 0 once it printed, whatever the outcomes; the caller checks them.
// Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM) and the npm packages
// playwright-core, @isomorphic-git/lightning-fs, buffer and esbuild (package.json).
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { onOtherOrigin } from './other-origin.mjs';
import esbuild from 'esbuild';

const [url, token] = process.argv.slice(2);
if (!url) throw new Error('usage: browser.mjs REPO_URL [TOKEN]');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules');
const scripts = {
  '/git.js': 'isomorphic-git/index.umd.min.js',
  '/http.js': 'isomorphic-git/http/web/index.umd.js',
  '/fs.js': '@isomorphic-git/lightning-fs/dist/lightning-fs.min.js',
};
// isomorphic-git expects Node's Buffer, which browsers lack: the npm package, bundled.
const buffer = await esbuild.build({
  stdin: { contents: "import { Buffer } from 'buffer'; globalThis.Buffer = Buffer;", resolveDir: root },
  bundle: true,
  write: false,
  format: 'iife',
});
const polyfill = buffer.outputFiles[0].text;
const page = `<!doctype html><meta charset="utf-8"><title>git</title>
<script>${polyfill}</script>
${Object.keys(scripts).map((s) => `<script src="${s}"></script>`).join('\n')}`;

const routes = Object.fromEntries(
  Object.entries(scripts).map(([at, file]) => [
    at,
    ['text/javascript', (res) => fs.createReadStream(path.join(root, file)).pipe(res)],
  ]),
);
await onOtherOrigin(page, routes, async (tab) => {
  const result = await tab.evaluate(async ({ url, token }) => {
    const code = (e) => (e && (e.code || e.name)) || String(e);
    const fs = new LightningFS('fs-' + Date.now(), { wipe: true });
    const dir = '/repo';
    const author = { name: 'Browser', email: 'browser@example.test', timestamp: 1700000000, timezoneOffset: 0 };
    await git.init({ fs, dir, defaultBranch: 'main' });
    await fs.promises.writeFile(`${dir}/hello.txt`, 'hello from a browser\n');
    await git.add({ fs, dir, filepath: 'hello.txt' });
    const commit = await git.commit({ fs, dir, message: 'from a browser', author });
    const push = (extra) => git.push({ fs, http: GitHttp, dir, url, ref: 'main', ...extra });
    let anonymous = 'ok';
    try {
      await push({ onAuth: () => ({ cancel: true }) });
    } catch (e) {
      anonymous = code(e);
    }
    let auth_calls = 0;
    let pushed;
    try {
      pushed = await push({
        onAuth: () => {
          auth_calls += 1;
          return { username: 'x', password: token };
        },
        onAuthFailure: () => ({ cancel: true }),
      });
    } catch (e) {
      pushed = code(e);
    }
    let cloned;
    try {
      const fresh = new LightningFS('clone-' + Date.now(), { wipe: true });
      await git.clone({ fs: fresh, http: GitHttp, dir: '/clone', url });
      cloned = await fresh.promises.readFile('/clone/hello.txt', 'utf8');
    } catch (e) {
      cloned = code(e);
    }
    return { anonymous, pushed, auth_calls, commit, cloned };
  }, { url, token: token || '' });
  console.log(JSON.stringify(result));
});
