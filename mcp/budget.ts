// The operator's spending caps for agents. Spending is counted as what devices can newly claim: the rise of a
// channel's highest signed voucher. It is checked and written down before the voucher is signed, so a crash
// between the two can only over-count, never let an agent spend past a cap.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { SpendIntent } from "../protocol/client/index.ts";

export interface BudgetCaps {
  perCall: bigint;
  perHour: bigint;
  total: bigint;
}

export type CapName = "per_call" | "per_hour" | "total";

/** A refusal: which cap, its limit, what was asked and by how much it would be exceeded (token base units). */
export class BudgetExceeded extends Error {
  readonly code = "budget_exceeded";
  readonly cap: CapName;
  readonly limit: bigint;
  readonly used: bigint;
  readonly requested: bigint;
  constructor(cap: CapName, limit: bigint, used: bigint, requested: bigint) {
    const over = used + requested - limit;
    super(`budget_exceeded: the ${cap} cap of ${limit} would be exceeded by ${over} (already ${used} spent under it, this needs ${requested}); nothing was signed or deposited`);
    this.cap = cap;
    this.limit = limit;
    this.used = used;
    this.requested = requested;
  }
  get over(): bigint {
    return this.used + this.requested - this.limit;
  }
}

const HOUR_MS = 3_600_000;
const uint = z.string().regex(/^[0-9]+$/);
const stateFile = z.object({
  version: z.literal(1),
  total: uint,
  recent: z.array(z.object({ at: z.number().int().nonnegative(), amount: uint })),
});

interface Spend {
  at: number;
  amount: bigint;
}

export interface BudgetStatus {
  caps: BudgetCaps;
  spentTotal: bigint;
  spentLastHour: bigint;
  remaining: { total: bigint; hour: bigint; perCall: bigint };
}

/** Caps plus what was spent, kept in `<dir>/mcp-budget.json` beside the buyer's channels and receipts. */
export class Budget {
  readonly file: string;
  readonly caps: BudgetCaps;
  readonly now: () => number;
  #total = 0n;
  #recent: Spend[] = [];
  #writing: Promise<void> = Promise.resolve();

  private constructor(caps: BudgetCaps, dir: string, now: () => number) {
    this.caps = caps;
    this.now = now;
    this.file = path.join(dir, "mcp-budget.json");
  }

  static async load(caps: BudgetCaps, dir: string, now: () => number = Date.now): Promise<Budget> {
    const b = new Budget(caps, dir, now);
    let text: string | undefined;
    try {
      text = await readFile(b.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (text !== undefined) {
      // A damaged file must stop the server: starting from zero would hand the agent its whole budget again.
      const parsed = stateFile.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`${b.file} is not a budget file: ${parsed.error.message}`);
      b.#total = BigInt(parsed.data.total);
      b.#recent = parsed.data.recent.map((s) => ({ at: s.at, amount: BigInt(s.amount) }));
    }
    return b;
  }

  status(): BudgetStatus {
    const hour = this.#lastHour();
    const left = (cap: bigint, used: bigint) => (cap > used ? cap - used : 0n);
    return {
      caps: this.caps,
      spentTotal: this.#total,
      spentLastHour: hour,
      remaining: { total: left(this.caps.total, this.#total), hour: left(this.caps.perHour, hour), perCall: this.caps.perCall },
    };
  }

  /** Throws BudgetExceeded if `amount` more, on a call that already spent `callSpent`, breaks a cap. */
  check(amount: bigint, callSpent = 0n): void {
    if (callSpent + amount > this.caps.perCall) throw new BudgetExceeded("per_call", this.caps.perCall, callSpent, amount);
    const hour = this.#lastHour();
    if (hour + amount > this.caps.perHour) throw new BudgetExceeded("per_hour", this.caps.perHour, hour, amount);
    if (this.#total + amount > this.caps.total) throw new BudgetExceeded("total", this.caps.total, this.#total, amount);
  }

  /** Checks and records a spend durably; resolves only once it is on disk. */
  async spend(amount: bigint, callSpent = 0n): Promise<void> {
    this.check(amount, callSpent);
    if (amount === 0n) return;
    // Counted in memory at once, so concurrent calls see each other before either reaches the disk.
    this.#total += amount;
    this.#recent.push({ at: this.now(), amount });
    await this.#persist();
  }

  /**
   * The `authorize` hook (protocol/client InferOptions.authorize, EdgepayChannelScheme's option) of one call: a
   * deposit is checked against the caps, a voucher's rise over what was signed is checked and recorded before it
   * is signed. Make one per call: the per-call cap counts what this function authorized.
   */
  authorizer(): (intent: SpendIntent) => Promise<void> {
    let callSpent = 0n;
    return async (intent) => {
      if (intent.kind === "open") return this.check(intent.cost, callSpent);
      const fresh = intent.amount > intent.signed ? intent.amount - intent.signed : 0n;
      await this.spend(fresh, callSpent);
      callSpent += fresh;
    };
  }

  #lastHour(): bigint {
    const since = this.now() - HOUR_MS;
    this.#recent = this.#recent.filter((s) => s.at > since);
    return this.#recent.reduce((n, s) => n + s.amount, 0n);
  }

  #persist(): Promise<void> {
    const next = this.#writing.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true });
      const body = JSON.stringify({ version: 1, total: this.#total.toString(), recent: this.#recent.map((s) => ({ at: s.at, amount: s.amount.toString() })) });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, body, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    this.#writing = next.catch(() => undefined);
    return next;
  }
}
