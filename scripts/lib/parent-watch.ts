// Preloaded (`node --import`) into every process `npm start` spawns (chain, worker, dashboard, builds), so none of
// them outlives it, even when it is killed with SIGKILL and cannot stop them itself. The parent passes one end of a
// pipe as fd EDGEPAY_WATCH_PARENT; the kernel closes it when the parent dies, however it dies. Then this process
// stops its own process group with SIGTERM (so its usual graceful stop runs: the worker flushes and sends its final
// claims) and SIGKILL after EDGEPAY_WATCH_GRACE_MS. As a backup (a pipe inherited by a stray grandchild keeps it
// open) a change of process.ppid counts too.
//
// Our stdout and stderr are pipes to the parent, gone with it: from then on what this process prints goes to the
// log file named by EDGEPAY_WATCH_LOG (the one the parent was writing it to), or nowhere, instead of failing with
// EPIPE in the middle of a graceful stop.
//
// The parent may write "after <pid>" lines on the pipe: this process then waits (within the grace period) until
// those processes are gone before stopping. The chain uses it so that the worker's final claims still reach it.
import { spawn } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import net from "node:net";

// Set by spawnWatchedNode in processes.ts.
const WATCH_PARENT_ENV = "EDGEPAY_WATCH_PARENT";
const WATCH_GRACE_ENV = "EDGEPAY_WATCH_GRACE_MS";
const WATCH_LOG_ENV = "EDGEPAY_WATCH_LOG";

/** Running: signalable and not a zombie (a killed process whose parent has not reaped it yet is gone for us). */
function alive(pid: number): boolean {
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

function signalOwnGroup(signal: NodeJS.Signals) {
  try {
    // A group leader (spawned detached) stops everything it started too; otherwise just itself.
    process.kill(-process.pid, signal);
  } catch {
    try {
      process.kill(process.pid, signal);
    } catch {
      // gone
    }
  }
}

const fd = Number(process.env[WATCH_PARENT_ENV]);
const grace = Number(process.env[WATCH_GRACE_ENV] || 10_000);
const logFile = process.env[WATCH_LOG_ENV];
// Not for our own children: they do not have this fd (a forked child's fd 3 may be its IPC channel).
delete process.env[WATCH_PARENT_ENV];
delete process.env[WATCH_GRACE_ENV];
delete process.env[WATCH_LOG_ENV];

/** Output after the parent is gone: to the log file, never an EPIPE. */
function redirectOutput() {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", () => undefined);
    stream.write = ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
      if (logFile) {
        try {
          appendFileSync(logFile, chunk);
        } catch {
          // the log is best effort now
        }
      }
      const cb = typeof encoding === "function" ? encoding : callback;
      if (typeof cb === "function") queueMicrotask(() => (cb as () => void)());
      return true;
    }) as typeof stream.write;
  }
}

if (Number.isInteger(fd) && fd > 2) {
  const parent = process.ppid;
  const after = new Set<number>();
  let stopping = false;
  const parentGone = async () => {
    if (stopping) return;
    stopping = true;
    redirectOutput();
    console.error(`[parent-watch] pid ${process.pid}: the process that started it (pid ${parent}) is gone; stopping`);
    const deadline = Date.now() + grace;
    const kill = setTimeout(() => signalOwnGroup("SIGKILL"), grace + 5_000);
    kill.unref();
    // The same SIGKILL from outside: a process whose SIGTERM handler blocks its event loop (seen with the Ponder
    // indexer under load) never runs the timer above. A detached shell outlives it and does not need it; it checks
    // the pid is still this kind of process (not a reused pid) before killing.
    const target = String(process.pid);
    try {
      spawn("/bin/sh", ["-c", `sleep ${Math.ceil((grace + 8_000) / 1000)}; grep -qa parent-watch /proc/${target}/cmdline 2>/dev/null || exit 0; kill -9 -${target} 2>/dev/null || kill -9 ${target} 2>/dev/null`], { detached: true, stdio: "ignore" }).unref();
    } catch {
      // no shell: the in-process timer is all there is
    }
    while ([...after].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    signalOwnGroup("SIGTERM");
  };
  let pipe: net.Socket | undefined;
  try {
    pipe = new net.Socket({ fd, readable: true, writable: false });
  } catch {
    // No such fd: started by hand with the variable set; the ppid check below still applies.
  }
  if (pipe) {
    let partial = "";
    pipe.setEncoding("utf8");
    pipe.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^after (\d+)$/.exec(line.trim());
        if (m) after.add(Number(m[1]));
      }
    });
    pipe.once("end", () => void parentGone());
    pipe.once("close", () => void parentGone());
    pipe.once("error", () => void parentGone());
    pipe.unref();
  }
  const poll = setInterval(() => {
    if (process.ppid !== parent) void parentGone();
  }, 1_000);
  poll.unref();
}
