// `npm run build:packages`: the installable @edgepay/protocol and @edgepay/worker packages, as tarballs in
// dist/packages/. In this repository both run from their TypeScript sources (Node strips types), but Node refuses to
// strip types under node_modules, so an installed package carries JavaScript: tsc emits it (tsconfig.packages.json,
// relative imports rewritten to .js), and each package gets a package.json whose exports name the .js files.
// protocol/generated/contracts.ts (ABIs and deployments, made by postinstall) ships inside @edgepay/protocol.
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";
import { ROOT } from "./lib/paths.ts";

const OUT = path.join(ROOT, "dist/packages");
const BUILD = path.join(OUT, "build");

interface Manifest {
  name: string;
  version: string;
  description?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
}

function run(cmd: string, args: string[], cwd = ROOT): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})\n${r.stdout}`);
  return r.stdout;
}

/** The package.json an installed package needs: JS exports, no workspace-only fields. */
function packedManifest(dir: string, extra: Record<string, unknown>): Record<string, unknown> {
  const src = JSON.parse(readFileSync(path.join(ROOT, dir, "package.json"), "utf8")) as Manifest;
  return {
    name: src.name,
    version: src.version,
    description: src.description,
    type: "module",
    engines: src.engines,
    exports: { "./*": { types: "./*.d.ts", default: "./*.js" } },
    ...extra,
    dependencies: src.dependencies,
  };
}

/**
 * The commands as a few bundled files (bundle/cli.js, bundle/writer-thread.js, bundle/prune-runtimes.js, shared
 * chunks): loading the worker's module graph file by file (viem alone is hundreds of modules) cost ~0.9 s of CPU
 * per start, the bundle ~15 ms. Native and wasm packages stay outside (they locate their own binaries). Flat entry
 * names keep store/committer's `./writer-thread.js` beside whichever chunk holds it.
 */
async function bundleWorker(pkgDir: string) {
  await build({
    entryPoints: ["cli.js", "store/writer-thread.js", "prune-runtimes.js"].map((f) => path.join(pkgDir, f)),
    outdir: path.join(pkgDir, "bundle"),
    entryNames: "[name]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    external: ["onnxruntime-node", "better-sqlite3", "secp256k1", "tiny-secp256k1"],
    // CommonJS dependencies (prom-client, js-sha3) call require(); an ES module has none of its own.
    banner: { js: 'import { createRequire as __edgepayCreateRequire } from "node:module"; const require = __edgepayCreateRequire(import.meta.url);' },
    logLevel: "warning",
  });
  for (const bin of ["cli.js", "prune-runtimes.js"]) chmodSync(path.join(pkgDir, "bundle", bin), 0o755);
}

if (!existsSync(path.join(ROOT, "protocol/generated/contracts.ts"))) {
  throw new Error("protocol/generated/contracts.ts is missing: run `npm run codegen` first");
}
rmSync(OUT, { recursive: true, force: true });
run(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.packages.json"]);

const tarballs: string[] = [];
for (const [dir, extra] of [
  ["protocol", {}],
  ["worker", { bin: { "edgepay-worker": "./bundle/cli.js", "edgepay-prune-runtimes": "./bundle/prune-runtimes.js" } }],
] as const) {
  const pkgDir = path.join(OUT, dir);
  cpSync(path.join(BUILD, dir), pkgDir, { recursive: true });
  for (const doc of ["README.md"]) {
    if (existsSync(path.join(ROOT, dir, doc))) cpSync(path.join(ROOT, dir, doc), path.join(pkgDir, doc));
  }
  writeFileSync(path.join(pkgDir, "package.json"), JSON.stringify(packedManifest(dir, extra), null, 2) + "\n");
  if (dir === "worker") {
    for (const bin of ["cli.js", "prune-runtimes.js"]) {
      const file = path.join(pkgDir, bin);
      writeFileSync(file, "#!/usr/bin/env node\n" + readFileSync(file, "utf8"));
      chmodSync(file, 0o755);
    }
    await bundleWorker(pkgDir);
  }
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", OUT], pkgDir)) as { filename: string }[];
  tarballs.push(path.join(OUT, packed[0]!.filename));
}
rmSync(BUILD, { recursive: true, force: true });
for (const t of tarballs) console.log(path.relative(ROOT, t));
