// The JSON API from a real headless Chromium, from a page of another origin: each call goes
// through CORS (a preflight, as Authorization and Range are not simple headers), as a
// browser app's would.
//
// Usage: node tests/e2e/browser-api.mjs API_URL TOKEN FILE
//   In the page (served on localhost:<free port>, the server being 127.0.0.1): GET
//   API_URL/commits?limit=1 and API_URL/raw/main/FILE with the first 10 bytes asked for (Range),
//   both with TOKEN as a Bearer token; the same commits call without it. Prints one JSON object:
//     {"commit": <the first commit's oid, or an error>, "anonymous": <that call's status>,
//      "raw_status": N, "raw_etag": <the ETag header as the page can read it>,
//      "raw_bytes": <the 10 bytes, as hex>}
//   Exits 0 once it printed, whatever the outcomes; the caller checks them.
// Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM) and playwright-core.
import process from 'node:process';
import { onOtherOrigin } from './other-origin.mjs';

const [api, token, file] = process.argv.slice(2);
if (!file) throw new Error('usage: browser-api.mjs API_URL TOKEN FILE');
await onOtherOrigin('<!doctype html><meta charset="utf-8"><title>api</title>', {}, async (tab) => {
  const result = await tab.evaluate(async ({ api, token, file }) => {
    const auth = { Authorization: `Bearer ${token}` };
    const out = {};
    try {
      const page = await fetch(`${api}/commits?limit=1`, { headers: auth });
      out.commit = (await page.json()).commits[0].oid;
    } catch (e) {
      out.commit = String(e);
    }
    try {
      out.anonymous = (await fetch(`${api}/commits?limit=1`)).status;
    } catch (e) {
      out.anonymous = String(e);
    }
    try {
      const raw = await fetch(`${api}/raw/main/${file}`, { headers: { ...auth, Range: 'bytes=0-9' } });
      out.raw_status = raw.status;
      out.raw_etag = raw.headers.get('etag');
      const bytes = new Uint8Array(await raw.arrayBuffer());
      out.raw_bytes = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    } catch (e) {
      out.raw_status = String(e);
    }
    return out;
  }, { api, token, file });
  console.log(JSON.stringify(result));
});
