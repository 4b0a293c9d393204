// File-backed buyer store: channels (with their session keys) in channels.json, rewritten atomically and fsynced;
// receipts appended to receipts.jsonl. Owner-only permissions: a session key can spend its channel's deposit.
import { appendFile, mkdir, open, readFile, rename } from "node:fs/promises";
import path from "node:path";
import type { Address, Hex } from "viem";
import {
  channelRecordFromJson,
  channelRecordToJson,
  receiptRecordFromJson,
  receiptRecordToJson,
  type BuyerStore,
  type ChannelRecord,
  type ChannelRecordJson,
  type ReceiptRecord,
  type ReceiptRecordJson,
} from "../client/store.ts";
import {
  quarantineRecordFromJson,
  quarantineRecordToJson,
  spotCheckRecordFromJson,
  spotCheckRecordToJson,
  type QuarantineRecord,
  type QuarantineRecordJson,
  type SpotCheckRecord,
  type SpotCheckRecordJson,
} from "../client/spot-check-records.ts";

export class FileBuyerStore implements BuyerStore {
  readonly dir: string;
  readonly #channelsFile: string;
  readonly #receiptsFile: string;
  readonly #checksFile: string;
  readonly #quarantineFile: string;
  #channels?: Map<string, ChannelRecord>;
  #quarantine?: Map<string, QuarantineRecord>;
  /** Writes are queued so two puts never interleave their temp files. */
  #writing: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
    this.#channelsFile = path.join(dir, "channels.json");
    this.#receiptsFile = path.join(dir, "receipts.jsonl");
    this.#checksFile = path.join(dir, "spot-checks.jsonl");
    this.#quarantineFile = path.join(dir, "quarantine.json");
  }

  async getChannel(channelId: Hex) {
    const r = (await this.#load()).get(channelId.toLowerCase());
    return r && { ...r, terms: { ...r.terms } };
  }

  async putChannel(record: ChannelRecord) {
    const channels = await this.#load();
    channels.set(record.channelId.toLowerCase(), { ...record, terms: { ...record.terms } });
    const json = JSON.stringify({ version: 1, channels: [...channels.values()].map(channelRecordToJson) }, null, 1);
    const write = this.#writing.then(() => this.#writeAtomically(json));
    this.#writing = write.catch(() => undefined);
    await write;
  }

  async listChannels() {
    return [...(await this.#load()).values()].map((r) => ({ ...r, terms: { ...r.terms } }));
  }

  async addReceipt(record: ReceiptRecord) {
    await this.#ensureDir();
    await appendFile(this.#receiptsFile, JSON.stringify(receiptRecordToJson(record)) + "\n", { mode: 0o600 });
  }

  async listReceipts(filter: { channelId?: Hex } = {}) {
    let text: string;
    try {
      text = await readFile(this.#receiptsFile, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const id = filter.channelId?.toLowerCase();
    return text
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => receiptRecordFromJson(JSON.parse(line) as ReceiptRecordJson))
      .filter((r) => !id || r.receipt.channelId.toLowerCase() === id);
  }

  async addSpotCheck(record: SpotCheckRecord) {
    await this.#ensureDir();
    await appendFile(this.#checksFile, JSON.stringify(spotCheckRecordToJson(record)) + "\n", { mode: 0o600 });
  }

  async listSpotChecks(filter: { device?: Address } = {}) {
    const d = filter.device?.toLowerCase();
    return (await readLines(this.#checksFile))
      .map((line) => spotCheckRecordFromJson(JSON.parse(line) as SpotCheckRecordJson))
      .filter((c) => !d || c.device.toLowerCase() === d);
  }

  async getQuarantine(device: Address) {
    const q = (await this.#loadQuarantine()).get(device.toLowerCase());
    return q && { ...q };
  }

  async putQuarantine(record: QuarantineRecord) {
    const map = await this.#loadQuarantine();
    map.set(record.device.toLowerCase(), { ...record });
    await this.#saveQuarantine(map);
  }

  async deleteQuarantine(device: Address) {
    const map = await this.#loadQuarantine();
    if (map.delete(device.toLowerCase())) await this.#saveQuarantine(map);
  }

  async listQuarantines() {
    return [...(await this.#loadQuarantine()).values()].map((q) => ({ ...q }));
  }

  /** Read once, like the channels (one Buyer per store): the check before each voucher costs no file read. */
  async #loadQuarantine(): Promise<Map<string, QuarantineRecord>> {
    if (this.#quarantine) return this.#quarantine;
    const map = new Map<string, QuarantineRecord>();
    try {
      const parsed = JSON.parse(await readFile(this.#quarantineFile, "utf8")) as { version: number; devices: QuarantineRecordJson[] };
      for (const q of parsed.devices) map.set(q.device.toLowerCase(), quarantineRecordFromJson(q));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot read ${this.#quarantineFile}: ${(error as Error).message}`);
    }
    this.#quarantine = map;
    return map;
  }

  async #saveQuarantine(map: Map<string, QuarantineRecord>) {
    const json = JSON.stringify({ version: 1, devices: [...map.values()].map(quarantineRecordToJson) }, null, 1);
    const write = this.#writing.then(() => this.#writeAtomically(json, this.#quarantineFile));
    this.#writing = write.catch(() => undefined);
    await write;
  }

  async #load(): Promise<Map<string, ChannelRecord>> {
    if (this.#channels) return this.#channels;
    const map = new Map<string, ChannelRecord>();
    try {
      const parsed = JSON.parse(await readFile(this.#channelsFile, "utf8")) as { version: number; channels: ChannelRecordJson[] };
      if (parsed.version !== 1) throw new Error(`${this.#channelsFile}: unknown store version ${parsed.version}`);
      for (const c of parsed.channels) map.set(c.channelId.toLowerCase(), channelRecordFromJson(c));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot read the buyer store ${this.#channelsFile}: ${(error as Error).message}`);
    }
    this.#channels = map;
    return map;
  }

  async #ensureDir() {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async #writeAtomically(text: string, file = this.#channelsFile) {
    await this.#ensureDir();
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await open(tmp, "w", 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  }
}

async function readLines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, "utf8")).split("\n").filter((line) => line.trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}
