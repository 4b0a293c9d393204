// Scripts run on their own (bench, soak, demo, gas report) and must not depend on the test tree: shared set-up lives in
// scripts/lib/ and tests import it from there. This finds every module specifier of a source file and the ones that
// resolve into a forbidden folder, so a test (test/integration/import-boundary.test.ts) can hold the line.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * Specifiers of static imports/exports (`from "x"`, `import "x"`), dynamic `import("x")` and `require("x")` with a
 * literal argument. Comments are not parsed out: a commented-out import still counts, which errs on the safe side.
 */
export function moduleSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s*["']([^"']+)["']/g, /\bimport\s*["']([^"']+)["']/g, /\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g, /\brequire\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/g];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]!);
  return found;
}

/** Source files (.ts, .mts, .js, .mjs) under `dir`, recursively, node_modules skipped. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules") continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(m?ts|m?js)$/.test(entry.name)) out.push(full);
  }
  return out;
}

export interface ForbiddenImport {
  file: string;
  specifier: string;
}

/** Relative imports of `file` (its text `source`) that resolve to `forbidden` or anything inside it. */
export function forbiddenImportsOf(file: string, source: string, forbidden: string): ForbiddenImport[] {
  const root = path.resolve(forbidden);
  return moduleSpecifiers(source)
    .filter((s) => s.startsWith(".") || path.isAbsolute(s))
    .filter((s) => {
      const target = path.resolve(path.dirname(file), s);
      return target === root || target.startsWith(root + path.sep);
    })
    .map((specifier) => ({ file, specifier }));
}

/** Every import from a file under `dir` into `forbidden`. */
export function forbiddenImports(dir: string, forbidden: string): ForbiddenImport[] {
  return sourceFiles(dir).flatMap((file) => forbiddenImportsOf(file, readFileSync(file, "utf8"), forbidden));
}
