// Child processes of `npm start` and the demo: each in its own process group (so a terminal's Ctrl-C reaches only
// the parent, which then stops them in order: dashboard, workers, chain), output to a log file, readiness by
// polling, and a stop that waits until the whole group is gone. Each child also watches this process (see
// parent-watch.ts): when it dies, even by SIGKILL, the children stop themselves.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions as NodeSpawnOptions } from "node:child_process";
import { createWriteStream, readFileSync, type WriteStream } from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import { ROOT } from "./paths.ts";

// Read by parent-watch.ts (not imported from there: importing it would run it in this process).
const WATCH_PARENT_ENV = "EDGEPAY_WATCH_PARENT";
const WATCH_GRACE_ENV = "EDGEPAY_WATCH_GRACE_MS";
const WATCH_LOG_ENV = "EDGEPAY_WATCH_LOG";
type StdioKind = "ignore" | "pipe" | "inherit";
const PARENT_WATCH = pathToFileURL(path.join(ROOT, "scripts/lib/parent-watch.ts")).href;

/**
 * `spawn(node, args)` with the parent watch preloaded: the child gets fd 3, one end of a pipe this process holds, and
 * stops its process group (SIGTERM, then SIGKILL after `graceMs`) once that closes, i.e. once this process is gone.
 */
export function spawnWatchedNode(
  args: string[],
  options: Omit<NodeSpawnOptions, "stdio"> & { graceMs?: number; stdio?: [StdioKind, StdioKind, StdioKind]; logFile?: string },
): ChildProcess {
  const { graceMs = 10_000, stdio = ["ignore", "pipe", "pipe"], env = process.env, logFile, ...rest } = options;
  return spawn(process.execPath, ["--import", PARENT_WATCH, ...args], {
    ...rest,
    env: { ...env, [WATCH_PARENT_ENV]: "3", [WATCH_GRACE_ENV]: String(graceMs), ...(logFile ? { [WATCH_LOG_ENV]: logFile } : {}) },
    stdio: [...stdio, "pipe"],
  });
}

/** Running: signalable and not a zombie (a killed process whose parent has not reaped it yet is gone for us). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * Calls `onGone` once when the process that started us is gone: our parent, and npm above it when the parent is the
 * `sh -c` npm runs scripts with (a SIGTERM to npm kills that shell but never reaches us). Polls every 300 ms; Linux
 * only beyond the parent (reads /proc).
 */
export function watchLauncher(onGone: () => void) {
  const parent = process.ppid;
  const watched = [parent];
  try {
    const comm = readFileSync(`/proc/${parent}/comm`, "utf8").trim();
    if (/^(sh|dash|bash|zsh)$/.test(comm)) {
      const stat = readFileSync(`/proc/${parent}/stat`, "utf8");
      const grandparent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      // npm sets its title to "npm start" (one string); run as `node .../npm-cli.js start` it is the second word.
      const words = readFileSync(`/proc/${grandparent}/cmdline`, "utf8").split(/[\0 ]/).filter(Boolean);
      if (grandparent > 1 && words.slice(0, 2).some((w) => /(^|\/)npm(-cli\.js)?$/.test(w))) watched.push(grandparent);
    }
  } catch {
    // no /proc (not Linux): only the parent is watched
  }
  const timer = setInterval(() => {
    if (process.ppid === parent && watched.every(processAlive)) return;
    clearInterval(timer);
    onGone();
  }, 300);
  timer.unref();
}

/** Tells a watched child to wait, when this process dies, until `pid` is gone before it stops (see parent-watch.ts). */
export function outlive(child: ChildProcess, pid: number) {
  const control = child.stdio[3] as Writable | null | undefined;
  if (control && !control.destroyed) control.write(`after ${pid}\n`);
}

export interface ManagedChild {
  name: string;
  pid: number;
  process: ChildProcess;
  /** Why it exited, once it has. */
  exited(): string | undefined;
  /** The last lines it printed (for error messages). */
  tail(lines?: number): string;
  /** SIGTERM to its group, SIGKILL after `graceMs`; resolves when no process of the group is left. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Append the child's output here. */
  logFile?: string;
  /** Called with each output line (after it went to the log file). */
  onLine?: (line: string) => void;
  /** How long the child's own graceful stop may take when this process dies without stopping it (default 10 s). */
  orphanGraceMs?: number;
}

/** Starts `node <args>` with the Node that runs us (Node 22 from the `node` package), in its own process group. */
export function spawnNode(name: string, args: string[], options: SpawnOptions = {}): ManagedChild {
  const child = spawnWatchedNode(args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", NEXT_TELEMETRY_DISABLED: "1", ...options.env },
    detached: true,
    graceMs: options.orphanGraceMs,
    logFile: options.logFile,
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${args.join(" ")}`);
  const pid = child.pid;
  const log: WriteStream | undefined = options.logFile ? createWriteStream(options.logFile, { flags: "a" }) : undefined;
  let recent: string[] = [];
  let partial = "";
  const onData = (d: Buffer) => {
    log?.write(d);
    const text = partial + d.toString();
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      recent.push(line);
      options.onLine?.(line);
    }
    if (recent.length > 400) recent = recent.slice(-200);
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let exit: string | undefined;
  child.once("exit", (code, signal) => {
    exit = signal ? `killed by ${signal}` : `exit code ${code}`;
    log?.end();
  });
  registerForCleanup(pid);
  return {
    name,
    pid,
    process: child,
    exited: () => exit,
    tail: (n = 30) => [...recent, partial].filter((l) => l.trim()).slice(-n).join("\n"),
    stop: (graceMs = 10_000) => stopGroup(pid, child, graceMs).then(() => unregisterForCleanup(pid)),
  };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

async function stopGroup(pgid: number, leader: ChildProcess, graceMs: number) {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) {
      signalGroup(pgid, "SIGKILL");
      if (Date.now() > deadline + 5_000) throw new Error(`process group ${pgid} survived SIGKILL`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // Reap the leader so its 'exit' listeners run before we report it stopped.
  if (leader.exitCode === null && leader.signalCode === null) await new Promise((r) => leader.once("exit", r));
}

// Groups still running when this process exits for any reason are killed, so nothing outlives `npm start`.
const live = new Set<number>();
let hooked = false;
function registerForCleanup(pgid: number) {
  live.add(pgid);
  if (hooked) return;
  hooked = true;
  process.once("exit", () => {
    for (const g of live) signalGroup(g, "SIGKILL");
  });
}
function unregisterForCleanup(pgid: number) {
  live.delete(pgid);
}

/** Kills every still-running child group at once (a second Ctrl-C). */
export function killAllChildren() {
  for (const g of live) signalGroup(g, "SIGKILL");
}

/** GET `url` and report whether it answered 2xx within `timeoutMs`. */
export async function httpOk(url: string, timeoutMs = 5_000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Who listens on 127.0.0.1/0.0.0.0:`port` ("pid 123: node .../hardhat node"), from `ss` or `lsof` when present;
 * undefined when it cannot tell.
 */
export function portHolder(port: number): string | undefined {
  const ss = spawnSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" });
  const pid = ss.status === 0 ? /pid=(\d+)/.exec(ss.stdout)?.[1] : undefined;
  let found = pid;
  if (!found) {
    const lsof = spawnSync("lsof", ["-nP", `-iTCP:${port}`, "-sTCP:LISTEN", "-t"], { encoding: "utf8" });
    found = lsof.status === 0 ? lsof.stdout.trim().split("\n")[0] : undefined;
  }
  if (!found) return undefined;
  let command = "";
  try {
    command = readFileSync(`/proc/${found}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    // not Linux, or the process is gone
  }
  return `pid ${found}${command ? `: ${command.length > 120 ? `${command.slice(0, 117)}...` : command}` : ""}`;
}
