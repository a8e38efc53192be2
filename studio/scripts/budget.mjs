// Bundle budget and provenance: fails the build when the production bundle outgrows its budget,
// and writes api/studio_dist/build-info.json (sizes, budget, and a hash of every source file) so
// the Python tests can check, without node, that the committed bundle is within budget and was
// built from the committed sources.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

const here = new URL("..", import.meta.url).pathname;
const dist = join(here, "../api/studio_dist");
export const BUDGET = { js_gzip: 32_000, css_gzip: 6_000, total_gzip: 40_000 };
const SOURCES = ["index.html", "package.json", "package-lock.json", "tsconfig.json", "vite.config.ts", "src", "public", "scripts"];

function walk(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const sourceHash = createHash("sha256");
for (const entry of SOURCES) {
  const path = join(here, entry);
  for (const file of statSync(path).isDirectory() ? walk(path) : [path]) {
    const rel = relative(here, file).split("\\").join("/");
    sourceHash.update(rel + "\0" + readFileSync(file, "utf8").replace(/\r\n/g, "\n") + "\0");
  }
}

const files = {};
let js = 0, css = 0;
for (const file of walk(dist)) {
  const rel = relative(dist, file).split("\\").join("/");
  if (rel === "build-info.json") continue;
  const data = readFileSync(file);
  const gz = gzipSync(data, { level: 9 }).length;
  files[rel] = { bytes: data.length, gzip: gz };
  if (rel.endsWith(".js")) js += gz;
  if (rel.endsWith(".css")) css += gz;
}
const total = Object.values(files).reduce((n, f) => n + f.gzip, 0);
const info = { source_sha256: sourceHash.digest("hex"), budget: BUDGET, js_gzip: js, css_gzip: css, total_gzip: total, files };
writeFileSync(join(dist, "build-info.json"), JSON.stringify(info, null, 2) + "\n");
const over = [["js_gzip", js], ["css_gzip", css], ["total_gzip", total]].filter(([k, v]) => v > BUDGET[k]);
console.log(`studio bundle: js ${js} B gz, css ${css} B gz, total ${total} B gz (budget ${JSON.stringify(BUDGET)})`);
if (over.length) {
  console.error(`bundle over budget: ${over.map(([k, v]) => `${k} ${v} > ${BUDGET[k]}`).join(", ")}`);
  process.exit(1);
}
