// isomorphic-git driver for the end-to-end tests (Node, offline, loopback only).
//
// Usage:
//   node tests/e2e/isogit.mjs init DIR
//       Creates a new repository in DIR (default branch main).
//   node tests/e2e/isogit.mjs commit DIR MESSAGE [UNIX_TIME]
//       Stages every change of the work tree (new, modified and deleted files) and commits it
//       with a fixed author; prints the new commit id.
//   node tests/e2e/isogit.mjs push DIR URL [BRANCH] [--force]
//       Pushes refs/heads/BRANCH (default main) to URL with isomorphic-git's smart HTTP client
//       (isomorphic-git/http/node). Prints the push result as JSON; exits 1 unless every ref
//       was accepted.
//   node tests/e2e/isogit.mjs log DIR
//       Prints the commit ids reachable from HEAD, newest first.
//   node tests/e2e/isogit.mjs clone DIR URL [--depth N] [--since UNIX_TIME]
//       Clones URL into DIR with isomorphic-git (smart HTTP only), all branches and tags.
//   node tests/e2e/isogit.mjs fetch DIR [--depth N]
//       Fetches origin into DIR (all branches and tags) and fast-forwards the checked-out
//       branch's working tree to origin's.
//
// Environment:
//   ISOGIT_TOKEN  when set and not empty, push, clone and fetch authenticate with it the way a
//                 browser app would: isomorphic-git's `onAuth` answers { username: 'x',
//                 password: ISOGIT_TOKEN } when the server asks (a 401), and `onAuthFailure`
//                 cancels, so a token the server refuses fails the command instead of retrying
//                 forever. isomorphic-git calls onAuth only after a 401, so a server that asks
//                 for nothing never sees the token. The push subcommand's JSON has `auth_calls`,
//                 how many times onAuth was called (0 when the server asked for nothing).
import fs from 'node:fs';
import process from 'node:process';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';

// Credentials from ISOGIT_TOKEN (see the header); authCalls counts the calls of onAuth.
let authCalls = 0;
const token = process.env.ISOGIT_TOKEN || '';
const auth = token
  ? {
      onAuth: () => {
        authCalls += 1;
        return { username: 'x', password: token };
      },
      onAuthFailure: () => ({ cancel: true }),
    }
  : {};

const author = (timestamp) => ({
  name: 'Iso Example',
  email: 'iso@example.test',
  timestamp,
  timezoneOffset: 0,
});

async function main(argv) {
  const [cmd, dir, ...rest] = argv;
  if (!cmd || !dir) throw new Error('usage: isogit.mjs init|commit|push|log DIR ...');
  switch (cmd) {
    case 'init':
      await git.init({ fs, dir, defaultBranch: 'main' });
      return;
    case 'commit': {
      const [message, time] = rest;
      if (!message) throw new Error('usage: isogit.mjs commit DIR MESSAGE [UNIX_TIME]');
      const matrix = await git.statusMatrix({ fs, dir });
      for (const [filepath, head, workdir, stage] of matrix) {
        if (workdir === 0) {
          if (stage !== 0) await git.remove({ fs, dir, filepath });
        } else if (head !== workdir || workdir !== stage) {
          await git.add({ fs, dir, filepath });
        }
      }
      const timestamp = time ? Number(time) : Math.floor(Date.now() / 1000);
      const oid = await git.commit({ fs, dir, message, author: author(timestamp) });
      console.log(oid);
      return;
    }
    case 'push': {
      const force = rest.includes('--force');
      const args = rest.filter((a) => a !== '--force');
      const [url, branch = 'main'] = args;
      if (!url) throw new Error('usage: isogit.mjs push DIR URL [BRANCH] [--force]');
      const messages = [];
      const result = await git.push({
        fs,
        http,
        dir,
        url,
        ref: branch,
        remoteRef: `refs/heads/${branch}`,
        force,
        onMessage: (m) => messages.push(m),
        ...auth,
      });
      const report = { ok: result.ok, error: result.error, refs: result.refs, messages, auth_calls: authCalls };
      console.log(JSON.stringify(report, null, 2));
      const refsOk = Object.values(result.refs || {}).every((r) => r.ok);
      if (!result.ok || !refsOk) process.exitCode = 1;
      return;
    }
    case 'clone': {
      const [url, ...flags] = rest;
      if (!url) throw new Error('usage: isogit.mjs clone DIR URL [--depth N] [--since UNIX_TIME]');
      const option = (name) => {
        const at = flags.indexOf(name);
        return at >= 0 ? Number(flags[at + 1]) : undefined;
      };
      const depth = option('--depth');
      const since = option('--since');
      await git.clone({
        fs,
        http,
        dir,
        url,
        depth,
        since: since === undefined ? undefined : new Date(since * 1000),
        tags: true,
        ...auth,
      });
      return;
    }
    case 'fetch': {
      const at = rest.indexOf('--depth');
      const depth = at >= 0 ? Number(rest[at + 1]) : undefined;
      const branch = await git.currentBranch({ fs, dir });
      const result = await git.fetch({ fs, http, dir, remote: 'origin', depth, tags: true, ...auth });
      await git.merge({ fs, dir, ours: branch, theirs: `refs/remotes/origin/${branch}`, fastForwardOnly: true, author: author(0) });
      await git.checkout({ fs, dir, ref: branch, force: true });
      console.log(result.fetchHead);
      return;
    }
    case 'log': {
      const commits = await git.log({ fs, dir });
      for (const c of commits) console.log(c.oid);
      return;
    }
    default:
      throw new Error(`unknown subcommand ${cmd}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(`isogit.mjs: ${err && err.stack ? err.stack : err}`);
  if (err && err.data) console.error(JSON.stringify(err.data, null, 2));
  process.exit(1);
});
