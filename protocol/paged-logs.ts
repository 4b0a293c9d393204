// Event scans that work against any RPC provider: eth_getLogs over a long block span in ranges of at most `maxRange`
// blocks, a range the provider refuses as too wide split smaller (to the size it names when it names one), and a
// failed call retried with exponential backoff. One place for every scan in protocol/, worker/, mcp/, scripts/ and
// the dashboard; history at scale is the indexer's job (indexer/), this keeps direct scans from being refused.
import type { Abi, Address, ContractEventName, GetContractEventsReturnType, PublicClient } from "viem";

/** Blocks per eth_getLogs when the caller does not say (public providers cap at 1k-10k; most accept this). */
export const DEFAULT_LOG_RANGE = 5_000n;

export interface ScanProgress {
  /** Last block scanned so far (inclusive). */
  scannedTo: bigint;
  fromBlock: bigint;
  toBlock: bigint;
  /** Items found so far. */
  found: number;
  /** Blocks per request now (smaller than asked after a provider refused a range). */
  range: bigint;
}

export interface ScanOptions {
  fromBlock: bigint;
  /** Inclusive; "latest" is read once at the start, so one scan sees one consistent span. Default "latest". */
  toBlock?: bigint | "latest";
  /** Largest block span per request (default DEFAULT_LOG_RANGE). */
  maxRange?: bigint | number;
  /** Retries of a failed range that is not a range refusal (default 3), with backoff from `backoffMs` (250). */
  retries?: number;
  backoffMs?: number;
  onProgress?: (progress: ScanProgress) => void;
}

const RANGE_REFUSAL =
  /block range|range (is )?too (large|wide|big)|too many blocks|max(imum)? range|range limit|limited to .*(range|blocks)|exceeds? .*(range|limit)|more than \d[\d,]* (results|logs)|response size|query returned more than/i;

/** Whether `error` is a provider refusing a log query as too wide (by its message), and the span it suggests. */
export function rangeRefusal(error: unknown): { refused: boolean; suggested?: bigint } {
  const text = describe(error);
  if (!RANGE_REFUSAL.test(text)) return { refused: false };
  const named = /max(?:imum)? range:? (\d[\d,]*)|maximum is set to (\d+)|limited to (?:a )?(\d[\d,]*)|up to (?:a )?(\d[\d,]*) block/i.exec(text);
  const digits = named?.slice(1).find((g) => g !== undefined)?.replace(/,/g, "");
  return { refused: true, ...(digits ? { suggested: BigInt(digits) } : {}) };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const parts = [error.message];
    for (let cause = (error as { cause?: unknown }).cause, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
      parts.push(cause instanceof Error ? cause.message : String(cause));
    }
    const details = (error as { details?: unknown }).details;
    if (typeof details === "string") parts.push(details);
    return parts.join(" | ");
  }
  return String(error);
}

/**
 * Calls `fetchRange(from, to)` over [fromBlock, toBlock] in ranges of at most `maxRange` blocks, in order, and
 * concatenates the results. A range refusal shrinks the range (to the provider's suggestion, else half) and retries
 * at once; other errors are retried `retries` times with backoff, then thrown naming the range.
 */
export async function scanPaged<T>(
  latestBlock: () => Promise<bigint>,
  fetchRange: (from: bigint, to: bigint) => Promise<readonly T[]>,
  options: ScanOptions,
): Promise<T[]> {
  const toBlock = options.toBlock === undefined || options.toBlock === "latest" ? await latestBlock() : options.toBlock;
  let range = BigInt(options.maxRange ?? DEFAULT_LOG_RANGE);
  if (range < 1n) throw new Error(`maxRange must be at least 1 block (got ${range})`);
  const retries = options.retries ?? 3;
  const backoff = options.backoffMs ?? 250;
  const out: T[] = [];
  for (let from = options.fromBlock; from <= toBlock; ) {
    const to = from + range - 1n < toBlock ? from + range - 1n : toBlock;
    let items: readonly T[] | undefined;
    for (let failures = 0; ; ) {
      try {
        items = await fetchRange(from, to);
        break;
      } catch (error) {
        const refusal = rangeRefusal(error);
        const span = to - from + 1n;
        if (refusal.refused && span > 1n) {
          const suggested = refusal.suggested !== undefined && refusal.suggested >= 1n && refusal.suggested < span ? refusal.suggested : span / 2n;
          range = suggested < 1n ? 1n : suggested;
          break;
        }
        if (failures++ >= retries) {
          throw new Error(`eth_getLogs for blocks ${from}..${to} failed ${failures} times: ${describe(error).split("\n")[0]}`, { cause: error });
        }
        await new Promise((r) => setTimeout(r, backoff * 2 ** (failures - 1)));
      }
    }
    // A refusal broke out without items: the same `from` again, with the smaller range.
    if (items === undefined) continue;
    out.push(...items);
    options.onProgress?.({ scannedTo: to, fromBlock: options.fromBlock, toBlock, found: out.length, range });
    from = to + 1n;
  }
  return out;
}

/** `client.getContractEvents` over a long span, paged and retried (see scanPaged). */
export function getContractEventsPaged<const abi extends Abi, eventName extends ContractEventName<abi>>(
  client: Pick<PublicClient, "getContractEvents" | "getBlockNumber">,
  params: { address: Address | Address[]; abi: abi; eventName: eventName; args?: Record<string, unknown> },
  options: ScanOptions,
): Promise<GetContractEventsReturnType<abi, eventName>> {
  return scanPaged(
    () => client.getBlockNumber({ cacheTime: 0 }),
    (fromBlock, toBlock) => client.getContractEvents({ ...params, fromBlock, toBlock } as never) as Promise<readonly unknown[]>,
    options,
  ) as Promise<GetContractEventsReturnType<abi, eventName>>;
}
