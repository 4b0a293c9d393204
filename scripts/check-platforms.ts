// `npm run check:platforms`: real `npm install --os=… --cpu=…` of the whole repository (package.json, lockfile and
// workspace manifests copied into a scratch folder) and of the @edgepay/worker package alone, for linux-x64,
// linux-arm64 and darwin-arm64; checks that each got its platform's native pieces and no other platform's, and that
// the lockfile was not changed by it (it already carries every platform). Install scripts run for the machine that
// runs them, so the foreign targets install with --ignore-scripts. Not in CI (several minutes, mostly cache reads).
// The repository is installed from the committed tree (git archive HEAD), on the machine's own Node as a user's
// `npm install` runs. Environment: CHECK_TARGETS (e.g. "linux-arm64,darwin-arm64"), CHECK_SKIP_ROOT=1 (worker package only).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./lib/paths.ts";

interface Target {
  os: "linux" | "darwin";
  cpu: "x64" | "arm64";
  /** Native packages npm must pick for this target (optional dependencies). */
  rootNative: string[];
  /** Files inside packages that must exist for it (prebuilds shipped inside one package). */
  bundled: string[];
}

const TARGETS: Record<string, Target> = {
  "linux-x64": {
    os: "linux",
    cpu: "x64",
    rootNative: ["@nomicfoundation/edr-linux-x64-gnu", "@next/swc-linux-x64-gnu"],
    bundled: ["onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1", "better-sqlite3/prebuilds/linux-x64.node"],
  },
  "linux-arm64": {
    os: "linux",
    cpu: "arm64",
    rootNative: ["@nomicfoundation/edr-linux-arm64-gnu", "@next/swc-linux-arm64-gnu"],
    bundled: ["onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1", "better-sqlite3/prebuilds/linux-arm64.node"],
  },
  "darwin-arm64": {
    os: "darwin",
    cpu: "arm64",
    rootNative: ["@nomicfoundation/edr-darwin-arm64", "@next/swc-darwin-arm64"],
    bundled: ["onnxruntime-node/bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib", "better-sqlite3/prebuilds/darwin-arm64.node", "secp256k1/prebuilds/darwin-arm64/secp256k1.node"],
  },
};
const ALL_NATIVE = Object.values(TARGETS).flatMap((t) => t.rootNative);

/**
 * `npm install` as a user types it: with `machineNode`, npm runs on the machine's own Node (this repo's
 * node_modules/.bin, which `npm run` puts first on PATH, is removed), as CI's `npm install` does.
 */
const foreign = (target: Target) => target.os !== process.platform || target.cpu !== process.arch;

function npmInstall(dir: string, target: Target, extra: string[], machineNode = false): number {
  const args = ["install", "--no-audit", "--no-fund", `--os=${target.os}`, `--cpu=${target.cpu}`, ...(foreign(target) ? ["--ignore-scripts"] : []), ...extra];
  const start = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip", HARDHAT_DISABLE_TELEMETRY: "true" };
  if (machineNode) env.PATH = (env.PATH ?? "").split(path.delimiter).filter((p) => !p.includes("node_modules")).join(path.delimiter);
  const r = spawnSync("npm", args, { cwd: dir, encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")} in ${dir} failed:\n${r.stderr.slice(-3000)}`);
  return (performance.now() - start) / 1000;
}

const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`  ${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
};

const names = (process.env.CHECK_TARGETS ?? Object.keys(TARGETS).join(",")).split(",");
const tarballs = ["edgepay-protocol-0.1.0.tgz", "edgepay-worker-0.1.0.tgz"].map((f) => path.join(ROOT, "dist/packages", f));
if (!tarballs.every(existsSync)) throw new Error("dist/packages has no tarballs: run `npm run build:packages` first");
const lockBefore = readFileSync(path.join(ROOT, "package-lock.json"), "utf8");
const scratch = mkdtempSync(path.join(tmpdir(), "edgepay-platforms-"));
try {
  for (const name of names) {
    const target = TARGETS[name];
    if (!target) throw new Error(`unknown target ${name} (known: ${Object.keys(TARGETS).join(", ")})`);
    console.log(`${name}:`);

    const device = path.join(scratch, name, "worker-only");
    mkdirSync(device, { recursive: true });
    writeFileSync(path.join(device, "package.json"), JSON.stringify({ name: "edge-device", private: true }));
    const workerSeconds = npmInstall(device, target, tarballs);
    const nm = path.join(device, "node_modules");
    check(existsSync(path.join(nm, "@edgepay/worker/bundle/cli.js")), `worker package installed alone (${workerSeconds.toFixed(0)} s)`);
    for (const f of target.bundled) check(existsSync(path.join(nm, f)), `worker install has ${f}`);
    for (const heavy of ["hardhat", "next", "solc"]) check(!existsSync(path.join(nm, heavy)), `worker install has no ${heavy}`);

    if (process.env.CHECK_SKIP_ROOT === "1") continue;
    const repo = path.join(scratch, name, "repo");
    mkdirSync(repo, { recursive: true });
    // The committed tree (postinstall needs scripts/ and contracts/), as a fresh clone has it.
    const archive = spawnSync("git", ["archive", "--format=tar", "HEAD"], { cwd: ROOT, maxBuffer: 1 << 30 });
    if (archive.status !== 0) throw new Error(`git archive failed: ${archive.stderr.toString()}`);
    const untar = spawnSync("tar", ["-x", "-C", repo], { input: archive.stdout });
    if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr.toString()}`);
    // This machine's target installs on the machine's Node, as CI does (postinstall then adds EDR's native package);
    // a foreign target's postinstall cannot run here, so npm runs on the project's Node 22 there (engines met).
    const rootSeconds = npmInstall(repo, target, [], !foreign(target));
    const rnm = path.join(repo, "node_modules");
    check(true, `repository installed (${rootSeconds.toFixed(0)} s)`);
    for (const pkg of target.rootNative) check(existsSync(path.join(rnm, pkg, "package.json")), `repository install has ${pkg}`);
    for (const pkg of ALL_NATIVE.filter((p) => !target.rootNative.includes(p))) check(!existsSync(path.join(rnm, pkg)), `repository install has no ${pkg}`);
    for (const f of target.bundled) check(existsSync(path.join(rnm, f)), `repository install has ${f}`);
    // npm ignores better-sqlite3's `gypfile: false` when installing from a lockfile and compiles it (a compiler and
    // minutes) although its prebuild for this platform is in the package: reported, not failed.
    if (!foreign(target)) console.log(`  note better-sqlite3 ${existsSync(path.join(rnm, "better-sqlite3/build")) ? "was compiled from source" : "was not compiled"}`);
    const lockAfter = readFileSync(path.join(repo, "package-lock.json"), "utf8");
    check(lockAfter === lockBefore, "lockfile unchanged by the install (it carries this platform)");
    if (lockAfter !== lockBefore) {
      writeFileSync(path.join(scratch, "lock-before.json"), lockBefore);
      console.log(spawnSync("diff", ["-u", path.join(scratch, "lock-before.json"), path.join(repo, "package-lock.json")], { encoding: "utf8" }).stdout.slice(0, 3000));
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(failures.length === 0 ? "all platform checks passed" : `${failures.length} failed:\n  ${failures.join("\n  ")}`);
process.exit(failures.length === 0 ? 0 : 1);
