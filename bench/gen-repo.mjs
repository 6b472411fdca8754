// Generates `git fast-import` streams for the benchmark (bench/run.sh). Writes to stdout.
//
// Usage:
//   node bench/gen-repo.mjs history COMMITS [SEED]
//       A realistic, deterministic history on refs/heads/main: source-like text files in
//       nested directories, created over time and edited a few lines at a time (1-6 files
//       per commit), with a topic branch merged back every ~40 commits (topic-0..topic-4 are
//       kept as branches) and an annotated tag every 500 commits. Roughly 8 objects per
//       commit: 3,700 commits give ~30,000 objects.
//   node bench/gen-repo.mjs random FILES TOTAL_BYTES
//       One commit on refs/heads/main holding FILES files of random bytes (crypto.randomBytes,
//       incompressible) totalling TOTAL_BYTES, spread over 50 directories. Sizes vary around
//       the mean (between 0.25x and 1.75x).
//   node bench/gen-repo.mjs big TOTAL_BYTES
//       One commit on refs/heads/main holding random files of 256 KiB..8 MiB (multiples of
//       256 KiB) in big/, totalling TOTAL_BYTES: a pack of about TOTAL_BYTES.
//
// Example: node bench/gen-repo.mjs history 3200 | git -C repo.git fast-import --quiet
import crypto from 'node:crypto';
import process from 'node:process';

const out = process.stdout;
async function write(chunk) {
  if (!out.write(chunk)) await new Promise((resolve) => out.once('drain', resolve));
}
async function data(buf) {
  const b = typeof buf === 'string' ? Buffer.from(buf) : buf;
  await write(`data ${b.length}\n`);
  await write(b);
  await write('\n');
}

// Small, fast, seeded PRNG (mulberry32).
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

const WORDS = ('buffer count index offset length value result entry header object stream cursor ' +
  'packet delta window chunk record table column row cache queue state config parser writer ' +
  'reader request response handler client server session token signal error status limit').split(' ');
const TYPES = ['int', 'size_t', 'uint32_t', 'bool', 'const char *', 'struct entry *', 'double'];
const DIRS = [
  'src/core', 'src/core/pack', 'src/core/index', 'src/net', 'src/net/http', 'src/storage',
  'src/storage/sql', 'src/util', 'src/ui/widgets', 'src/ui/views', 'include', 'tests/unit',
  'tests/integration', 'docs', 'tools', 'bench',
];
const EXT = { docs: '.md' };

function ident(r) {
  return `${r.pick(WORDS)}_${r.pick(WORDS)}`;
}
function codeLine(r) {
  switch (r.int(8)) {
    case 0: return `    /* ${r.pick(WORDS)} ${r.pick(WORDS)} ${r.pick(WORDS)}: keep ${r.pick(WORDS)} in sync */`;
    case 1: return `    if (${ident(r)} > ${r.int(4096)}) return ${r.pick(['-1', '0', 'ERR_LIMIT', ident(r)])};`;
    case 2: return `    ${r.pick(TYPES)} ${ident(r)} = ${ident(r)}(${ident(r)}, ${r.int(100)});`;
    case 3: return `    for (size_t i = 0; i < ${ident(r)}; i++) ${ident(r)}[i] ^= ${r.int(256)};`;
    case 4: return `    ${ident(r)}->${r.pick(WORDS)} += ${ident(r)}.${r.pick(WORDS)};`;
    case 5: return `    ${ident(r)}(${ident(r)}, "${r.pick(WORDS)} %d", ${r.int(1000)});`;
    case 6: return '';
    default: return `    ${ident(r)} = ${ident(r)} * ${r.int(64)} + ${ident(r)};`;
  }
}
function functionBlock(r) {
  const lines = [`static ${r.pick(TYPES)} ${ident(r)}_${r.int(1000)}(${r.pick(TYPES)} ${ident(r)})`, '{'];
  const n = 4 + r.int(14);
  for (let i = 0; i < n; i++) lines.push(codeLine(r));
  lines.push('    return 0;', '}', '');
  return lines;
}
function docLine(r) {
  const n = 6 + r.int(10);
  const words = [];
  for (let i = 0; i < n; i++) words.push(r.pick(WORDS));
  return words.join(' ') + '.';
}
function newFile(r, path) {
  const isDoc = path.endsWith('.md');
  const lines = isDoc ? [`# ${r.pick(WORDS)} ${r.pick(WORDS)}`, ''] : [`/* ${path} */`, '#include <stdint.h>', `#include "${r.pick(WORDS)}.h"`, ''];
  const blocks = 3 + r.int(8);
  for (let b = 0; b < blocks; b++) {
    if (isDoc) {
      for (let i = 0; i < 3 + r.int(6); i++) lines.push(docLine(r));
      lines.push('');
    } else {
      lines.push(...functionBlock(r));
    }
  }
  return lines;
}
function editFile(r, path, lines) {
  const isDoc = path.endsWith('.md');
  const edits = 1 + r.int(5);
  for (let e = 0; e < edits; e++) {
    const at = r.int(lines.length);
    const kind = r.int(10);
    if (kind < 6) lines[at] = isDoc ? docLine(r) : codeLine(r);
    else if (kind < 8) lines.splice(at, 0, isDoc ? docLine(r) : codeLine(r));
    else if (kind < 9 && lines.length > 20) lines.splice(at, 1);
    else lines.splice(at, 0, ...(isDoc ? [docLine(r), ''] : functionBlock(r)));
  }
}

const AUTHORS = ['Ada Lovelace <ada@example.test>', 'Alan Turing <alan@example.test>',
  'Grace Hopper <grace@example.test>', 'Linus Example <linus@example.test>',
  'Margaret Hamilton <margaret@example.test>'];

async function history(commits, seed) {
  const r = prng(seed);
  const files = new Map(); // path -> lines (main)
  let time = 1600000000;
  let mark = 0;
  let mainMark = 0;
  let fileSeq = 0;
  const addPath = () => {
    const dir = r.pick(DIRS);
    const base = dir.split('/').pop();
    return `${dir}/${base}_${r.pick(WORDS)}_${fileSeq++}${EXT[dir] || '.c'}`;
  };
  async function commit(ref, changes, message, parents) {
    mark += 1;
    time += 60 + r.int(7200);
    const who = r.pick(AUTHORS);
    await write(`commit ${ref}\nmark :${mark}\nauthor ${who} ${time} +0000\ncommitter ${who} ${time} +0000\n`);
    await data(message);
    for (const p of parents) await write(p);
    for (const [path, lines] of changes) {
      await write(`M 100644 inline ${path}\n`);
      await data(lines.join('\n') + '\n');
    }
    await write('\n');
    return mark;
  }

  // Initial import: 40 files.
  const initial = [];
  for (let i = 0; i < 40; i++) {
    const p = addPath();
    files.set(p, newFile(r, p));
    initial.push([p, files.get(p)]);
  }
  mainMark = await commit('refs/heads/main', initial, 'Initial import\n', []);
  let made = 1;
  let topicNo = 0;
  let nextTag = 500;
  while (made < commits) {
    if (made >= nextTag) {
      await write(`tag v${nextTag / 500}.0\nfrom :${mainMark}\ntagger ${AUTHORS[0]} ${time} +0000\n`);
      await data(`Release ${nextTag / 500}.0\n`);
      nextTag += 500;
    }
    if (made % 40 === 39 && commits - made >= 4) {
      // A topic branch of 2 commits on its own copy, merged back with a merge commit.
      const topic = `refs/heads/topic-${topicNo++ % 5}`;
      await write(`reset ${topic}\nfrom :${mainMark}\n\n`);
      const touched = new Map();
      let topicMark = 0;
      for (let k = 0; k < 2; k++) {
        const changes = new Map();
        for (let j = 0; j < 1 + r.int(3); j++) {
          const paths = [...files.keys()];
          const p = r.pick(paths);
          const lines = [...(touched.get(p) || files.get(p))];
          editFile(r, p, lines);
          touched.set(p, lines);
          changes.set(p, lines);
        }
        topicMark = await commit(topic, changes, `Topic ${topicNo}: ${r.pick(WORDS)} ${r.pick(WORDS)}\n`, []);
        made += 1;
      }
      for (const [p, lines] of touched) files.set(p, lines);
      mainMark = await commit('refs/heads/main', [...touched], `Merge branch '${topic.slice(11)}'\n`,
        [`merge :${topicMark}\n`]);
      made += 1;
      continue;
    }
    const changes = new Map();
    const n = 1 + r.int(r() < 0.8 ? 3 : 6);
    for (let j = 0; j < n; j++) {
      if (r() < 0.06 || files.size < 40) {
        const p = addPath();
        files.set(p, newFile(r, p));
        changes.set(p, files.get(p));
      } else {
        const p = r.pick([...files.keys()]);
        const lines = [...files.get(p)];
        editFile(r, p, lines);
        files.set(p, lines);
        changes.set(p, lines);
      }
    }
    mainMark = await commit('refs/heads/main', changes,
      `${r.pick(['Fix', 'Add', 'Refactor', 'Speed up', 'Document', 'Test'])} ${r.pick(WORDS)} ${r.pick(WORDS)}\n`, []);
    made += 1;
  }
}

async function random(count, total) {
  // Sizes between 0.25x and 1.75x of the mean, then adjusted so they sum to `total`.
  const mean = total / count;
  const sizes = [];
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const s = Math.max(1, Math.round(mean * (0.25 + 1.5 * Math.random())));
    sizes.push(s);
    sum += s;
  }
  const scale = total / sum;
  const time = 1700000000;
  await write(`commit refs/heads/main\nauthor Bench <bench@example.test> ${time} +0000\n` +
    `committer Bench <bench@example.test> ${time} +0000\n`);
  await data(`${count} random files\n`);
  for (let i = 0; i < count; i++) {
    const size = Math.max(1, Math.round(sizes[i] * scale));
    await write(`M 100644 inline d${String(i % 50).padStart(2, '0')}/f${String(i).padStart(6, '0')}.bin\n`);
    await data(crypto.randomBytes(size));
  }
  await write('\n');
}

async function big(total) {
  const time = 1700000000;
  await write(`commit refs/heads/main\nauthor Bench <bench@example.test> ${time} +0000\n` +
    `committer Bench <bench@example.test> ${time} +0000\n`);
  await data('large random files\n');
  let sum = 0;
  for (let i = 0; sum < total; i++) {
    const size = Math.min(total - sum, 262144 * (1 + Math.floor(Math.random() * 32)));
    await write(`M 100644 inline big/file${String(i).padStart(4, '0')}.bin\n`);
    await data(crypto.randomBytes(size));
    sum += size;
  }
  await write('\n');
}

const [cmd, a, b] = process.argv.slice(2);
const run = cmd === 'history' ? history(Number(a), Number(b || 1))
  : cmd === 'random' ? random(Number(a), Number(b))
    : cmd === 'big' ? big(Number(a))
    : Promise.reject(new Error('usage: gen-repo.mjs history COMMITS [SEED] | random FILES TOTAL_BYTES | big TOTAL_BYTES'));
run.catch((err) => {
  console.error(`gen-repo.mjs: ${err.stack || err}`);
  process.exit(1);
});
