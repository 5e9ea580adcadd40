// web/build.mjs: bundles the web peer into dist/, the files toss-signal embeds and serves:
// index.html, toss.js (src/page.js with @noble and client-zip, from node_modules at the
// versions package-lock.json pins), style.css (with the app's ui/styles.css), sw.js and the
// icon. `node build.mjs --check` builds into a temporary folder and fails when dist/ differs,
// so the served page cannot drift from its sources.

import { build } from "esbuild";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "toss-web-")) : join(here, "dist");

const common = { bundle: true, minify: true, legalComments: "eof", logLevel: "warning", target: ["chrome110", "firefox115", "safari16"] };
await build({ ...common, entryPoints: [join(here, "src/page.js")], outfile: join(out, "toss.js"), format: "esm" });
await build({ ...common, entryPoints: [join(here, "src/style.css")], outfile: join(out, "style.css") });
copyFileSync(join(here, "src/sw.js"), join(out, "sw.js"));
copyFileSync(join(here, "src/index.html"), join(out, "index.html"));
copyFileSync(join(here, "../ui/icon.svg"), join(out, "icon.svg"));

if (check) {
  const dist = join(here, "dist");
  const differ = readdirSync(out).filter((f) => {
    try {
      return !readFileSync(join(out, f)).equals(readFileSync(join(dist, f)));
    } catch {
      return true;
    }
  });
  rmSync(out, { recursive: true });
  if (differ.length > 0) {
    console.error(`web/dist is out of date (${differ.join(", ")}): run \`npm run build\` in web/ and commit dist/`);
    process.exit(1);
  }
}
