import type { ChildProcess } from "node:child_process";
import net from "node:net";
import { HARDHAT_CLI, ROOT } from "./paths.ts";
import { outlive, spawnWatchedNode } from "./processes.ts";

export interface RunningChain {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
  /** Should this process die without stopping the chain, the chain waits for `pid` to be gone first (<= 35 s). */
  outlive(pid: number): void;
}

/** Resolves true when nothing listens on 127.0.0.1:port. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port the OS reports free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** JSON-RPC call with plain fetch (no client library, so readiness checks stay dependency-free). */
export async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

/** Polls `check` until it resolves true or the deadline passes (readiness, never a fixed sleep). */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, exited?: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited?.();
    if (why) throw new Error(`${what}: ${why}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * Starts `hardhat node` on 127.0.0.1:port and waits until it answers JSON-RPC.
 * The returned process is the real server (not an npx wrapper), so stopping it stops the chain. It watches this
 * process and stops by itself when this process dies without stopping it (parent-watch.ts).
 */
export async function startChain(options: { port: number; quiet?: boolean; detached?: boolean; /** Default 31337. */ chainId?: number }): Promise<RunningChain> {
  const { port } = options;
  if (!(await isPortFree(port))) {
    throw new Error(`port ${port} on 127.0.0.1 is taken; set CHAIN_PORT to a free port (or stop what holds it)`);
  }
  const chainIdArgs = options.chainId === undefined ? [] : ["--chain-id", String(options.chainId)];
  const child = spawnWatchedNode([HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port), ...chainIdArgs], {
    cwd: ROOT,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", CI: process.env.CI ?? "true" },
    stdio: options.quiet === false ? ["ignore", "inherit", "inherit"] : ["ignore", "ignore", "pipe"],
    // Own process group: a terminal's Ctrl-C then reaches only the parent, which stops the chain last.
    detached: options.detached ?? false,
    // Orphaned, it waits for the processes named with outlive() (the worker's final claims), up to 35 s.
    graceMs: 35_000,
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let exit: string | undefined;
  child.once("exit", (code, signal) => (exit = `hardhat node exited (${signal ?? code}) ${stderr.trim()}`));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`chain on ${url}`, async () => (await rpc<string>(url, "eth_chainId")) !== undefined, 60_000, () => exit);
  return {
    url,
    port,
    process: child,
    stop: () => stopProcess(child),
    outlive: (pid) => outlive(child, pid),
  };
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
