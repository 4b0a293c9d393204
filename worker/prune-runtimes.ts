// `edgepay-prune-runtimes [--dry-run]`: an installed worker carries native runtimes for every platform
// (onnxruntime-node bundles linux/darwin/win32 x64/arm64 libraries, ~290 MB, of which one platform needs 25-90 MB;
// better-sqlite3 bundles eight prebuilds). On a device with little storage this deletes the other platforms' copies,
// keeping this process's platform and architecture. Opt-in and explicit (it edits installed packages: a later
// `npm install` of those packages brings the files back); prints what it removes.
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** `node_modules/<pkg>` from this file's directory upwards. */
function packageDir(pkg: string): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "node_modules", pkg);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function sizeOf(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((sum, e) => sum + sizeOf(path.join(p, e)), 0);
}

/** Paths of other platforms' native runtimes (for `platform`-`arch`). */
export function foreignRuntimes(platform: string, arch: string): string[] {
  const out: string[] = [];
  const ort = packageDir("onnxruntime-node");
  const ortBin = ort && path.join(ort, "bin/napi-v6");
  if (ortBin && existsSync(ortBin)) {
    for (const os of readdirSync(ortBin)) {
      for (const cpu of readdirSync(path.join(ortBin, os))) {
        if (os !== platform || cpu !== arch) out.push(path.join(ortBin, os, cpu));
      }
    }
  }
  const sqlite = packageDir("better-sqlite3");
  const prebuilds = sqlite && path.join(sqlite, "prebuilds");
  if (prebuilds && existsSync(prebuilds)) {
    for (const file of readdirSync(prebuilds)) {
      // linux-arm64.node and linuxmusl-arm64.node both serve linux on arm64.
      const [os = "", cpu = ""] = file.replace(/\.node$/, "").split("-");
      if (!os.startsWith(platform) || cpu !== arch) out.push(path.join(prebuilds, file));
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dryRun = process.argv.includes("--dry-run");
  let total = 0;
  for (const p of foreignRuntimes(process.platform, process.arch)) {
    const bytes = sizeOf(p);
    total += bytes;
    console.log(`${dryRun ? "would remove" : "removing"} ${p} (${(bytes / 2 ** 20).toFixed(1)} MB)`);
    if (!dryRun) rmSync(p, { recursive: true, force: true });
  }
  console.log(`${dryRun ? "would free" : "freed"} ${(total / 2 ** 20).toFixed(1)} MB (kept ${process.platform}-${process.arch})`);
}
