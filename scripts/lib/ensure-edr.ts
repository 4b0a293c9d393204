// Hardhat's native runtime (EDR) comes as one optional package per platform, each declaring engines node >= 22.
// npm checks an optional package's engines against the Node that runs npm itself, so `npm install` under an older
// system Node silently drops the package and Hardhat later fails with HHE27. Rather than pin one platform's package
// as a direct dependency (which breaks installs on every other platform), postinstall — run by the project's Node
// 22 — installs the one this machine needs when npm skipped it, at the exact version EDR pins.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./paths.ts";

/** EDR's package suffix for this machine, as @nomicfoundation/edr's own loader names it. */
export function edrTriple(platform: NodeJS.Platform, arch: string, musl: boolean): string {
  if (platform === "linux") return `linux-${arch}-${musl ? "musl" : "gnu"}`;
  if (platform === "win32") return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function isMusl(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return process.platform === "linux" && !report?.header?.glibcVersionRuntime;
}

/** Installs the EDR native package for this machine when it is missing; returns what it did. */
export function ensureEdrNative(): "present" | "installed" | "unsupported" {
  const edrPkg = path.join(ROOT, "node_modules/@nomicfoundation/edr/package.json");
  if (!existsSync(edrPkg)) return "unsupported";
  const edr = JSON.parse(readFileSync(edrPkg, "utf8")) as { optionalDependencies?: Record<string, string> };
  const name = `@nomicfoundation/edr-${edrTriple(process.platform, process.arch, isMusl())}`;
  const version = edr.optionalDependencies?.[name];
  if (!version) return "unsupported";
  if (existsSync(path.join(ROOT, "node_modules", name, "package.json"))) return "present";
  const npmCli = process.env.npm_execpath;
  if (!npmCli) throw new Error(`${name} is missing; run \`npm install --no-save ${name}@${version}\` with Node >= 22`);
  // npm started by this Node (>= 22), so the engines check passes; --no-save keeps package.json and the lockfile,
  // --ignore-scripts keeps this postinstall from running again.
  const r = spawnSync(process.execPath, [npmCli, "install", "--no-save", "--ignore-scripts", "--no-audit", "--no-fund", `${name}@${version}`], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (r.status !== 0) throw new Error(`installing ${name}@${version} failed (exit ${r.status})`);
  return "installed";
}
