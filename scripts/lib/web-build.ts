// The dashboard's production build, made only when its inputs changed: a sha256 over web/ (without .next), the
// shared protocol/ sources, the generated ABIs (not the generated addresses: the dashboard reads those at run time
// from /api/config) and the lockfile, stamped into web/.next after a successful `next build web`.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./paths.ts";
import { spawnNode } from "./processes.ts";

export const NEXT_CLI = path.join(ROOT, "node_modules/next/dist/bin/next");
const STAMP = path.join(ROOT, "web/.next/edgepay-build-inputs.sha256");
const SKIP_DIRS = new Set([".next", "node_modules", ".turbo"]);

function listFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name) && !(dir.endsWith("protocol") && entry.name === "generated")) listFiles(full, out);
    } else if (entry.isFile()) {
      out.push(full);
    }
  }
  return out;
}

/** sha256 over everything the production build depends on. */
export function webInputsHash(): string {
  const hash = createHash("sha256");
  const files = [
    ...listFiles(path.join(ROOT, "web")),
    ...listFiles(path.join(ROOT, "protocol")),
    path.join(ROOT, "package-lock.json"),
    path.join(ROOT, "tsconfig.json"),
  ].filter((f) => existsSync(f) && !f.endsWith("next-env.d.ts"));
  for (const file of files) {
    hash.update(path.relative(ROOT, file)).update("\0").update(readFileSync(file)).update("\0");
  }
  const generated = path.join(ROOT, "protocol/generated/contracts.ts");
  if (existsSync(generated)) {
    // The deployments list changes with every local deploy; the ABIs and bytecode only with the contracts.
    const text = readFileSync(generated, "utf8");
    const cut = text.indexOf("export interface Deployment");
    hash.update("generated-abis\0").update(cut === -1 ? text : text.slice(0, cut));
  }
  return hash.digest("hex");
}

/** Whether web/.next holds a production build of exactly the current inputs. */
export function webBuildFresh(inputs = webInputsHash()): boolean {
  if (!existsSync(path.join(ROOT, "web/.next/BUILD_ID")) || !existsSync(STAMP)) return false;
  return readFileSync(STAMP, "utf8").trim() === inputs;
}

/** Runs `next build web` when the build is missing or stale; `onLine` sees the build's output. */
export async function ensureWebBuild(options: { logFile?: string; onLine?: (line: string) => void } = {}): Promise<{ built: boolean; seconds: number }> {
  const started = Date.now();
  const inputs = webInputsHash();
  if (webBuildFresh(inputs)) return { built: false, seconds: 0 };
  const build = spawnNode("dashboard build", [NEXT_CLI, "build", "web"], { logFile: options.logFile, onLine: options.onLine });
  await new Promise<void>((resolve, reject) => {
    build.process.once("exit", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`next build web failed (${signal ?? `exit ${code}`}):\n${build.tail(40)}`));
    });
  });
  // Stamp what was built from; an edit during the build makes the next start rebuild.
  writeFileSync(STAMP, inputs + "\n");
  return { built: true, seconds: (Date.now() - started) / 1000 };
}
