// After `vite build`: writes a gzip copy of every asset (the platform serves `x.js.gz`
// for `x.js` to browsers that accept gzip) and reports the first route's JavaScript:
// the entry script of index.html, the scripts it preloads, and every module they import
// statically, gzipped.
// Fails when that is over the budget (docs/web.md). The browser tests measure what
// Chromium actually loads (e2e/perf.spec.ts).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const BUDGET_KB = 250;
const dist = new URL('../dist/', import.meta.url).pathname;
const assets = join(dist, 'assets');
const gz = new Map();
for (const name of readdirSync(assets)) {
  if (!/\.(js|css|svg|json)$/.test(name)) continue;
  const zipped = gzipSync(readFileSync(join(assets, name)), { level: 9 });
  writeFileSync(join(assets, `${name}.gz`), zipped);
  gz.set(name, zipped.length);
}

// The entry and its static imports (`import … from "./x.js"`, not `import("./x.js")`).
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const entry = html.match(/<script type="module"[^>]*src="\/assets\/([^"]+)"/)[1];
const first = new Set();
const visit = (name) => {
  if (first.has(name)) return;
  first.add(name);
  const code = readFileSync(join(assets, name), 'utf8');
  for (const m of code.matchAll(/(?:^|[;}\s])import\s*(?:[\w${},*\s]+from\s*)?["']\.\/([^"']+\.js)["']/g)) visit(m[1]);
};
visit(entry);
// And what index.html preloads (the dashboard's code and the chart library).
for (const m of html.matchAll(/<link rel="modulepreload"[^>]*href="\/assets\/([^"]+)"/g)) visit(m[1]);
const total = [...first].reduce((sum, name) => sum + gz.get(name), 0) / 1024;
console.log(`first route JS: ${[...first].join(', ')}: ${total.toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (total > BUDGET_KB) {
  console.error(`the first route's JavaScript is over the ${BUDGET_KB} KB budget`);
  process.exit(1);
}
