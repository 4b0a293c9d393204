// The dashboard's production build (`next build web`), skipped when web/.next was built from the same inputs
// (hash of web/, protocol/ and the lockfile; see scripts/lib/web-build.ts). Used by `npm test` and `npm start`.
import { ensureWebBuild } from "./lib/web-build.ts";

try {
  const r = await ensureWebBuild({ onLine: (line) => console.log(line) });
  console.log(r.built ? `dashboard built in ${r.seconds.toFixed(0)} s` : "dashboard build is up to date (inputs unchanged): reused");
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
