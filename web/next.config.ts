import path from "node:path";
import type { NextConfig } from "next";

// The app imports ../protocol (shared with the worker) and resolves packages from the repo's root node_modules,
// so the bundler's root is the repository, not web/.
const root = path.join(import.meta.dirname, "..");

const nextConfig: NextConfig = {
  turbopack: { root },
  outputFileTracingRoot: root,
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
