// Resident memory of a process and everything it started (Linux /proc): `next start` and Ponder each run their work
// in child processes, so the leader's own RSS alone would under-report what the service costs.
import { readdirSync, readFileSync } from "node:fs";

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // The command name (2nd field) may hold spaces and parentheses: the fields after its last ")" are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** RSS in MB of `pid` plus all its descendants; 0 when the process is gone or /proc is not there. */
export function treeRssMB(pid: number | undefined): number {
  if (!pid) return 0;
  let pids: number[];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
  } catch {
    return 0;
  }
  const children = new Map<number, number[]>();
  for (const p of pids) {
    const parent = parentOf(p);
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), p]);
  }
  let kb = 0;
  const stack = [pid];
  const seen = new Set<number>();
  while (stack.length) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    kb += rssKb(p);
    stack.push(...(children.get(p) ?? []));
  }
  return kb / 1024;
}
