// A page of another origin in a real headless Chromium, for the end-to-end scripts that call
// the server from a browser: served on localhost:<free port> (the server being 127.0.0.1), so
// that every request the page makes goes through CORS as a browser app's would.
// Needs Debian's chromium (/usr/bin/chromium, or CHROMIUM) and playwright-core.
import http from 'node:http';
import process from 'node:process';
import { chromium } from 'playwright-core';

// Serves `routes` (path -> [content type, body or a function writing it]) and `page` as
// every other path, opens the page, runs `work(tab)`, and closes everything.
export async function onOtherOrigin(page, routes, work) {
  const server = http.createServer((req, res) => {
    const route = routes[req.url];
    if (route) {
      res.writeHead(200, { 'content-type': route[0] });
      route[1](res);
    } else {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://localhost:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
  try {
    const tab = await browser.newPage();
    await tab.goto(origin);
    return await work(tab);
  } finally {
    await browser.close();
    server.close();
  }
}
