// ESLint 9 flat config for the dashboard (Next 16 has no `next lint`): `npx eslint web`.
import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const config = [
  ...nextVitals,
  ...nextTs,
  { ignores: [".next/**", "next-env.d.ts"] },
  {
    settings: { next: { rootDir: "web/" } },
  },
];

export default config;
