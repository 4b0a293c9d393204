// A payer's channels from the indexer (one GraphQL request per 1,000 channels, the database filtering by payer) with
// the chain's clock for their status; the paged RPC scan (listChannelsOf) when no indexer is configured or it does not
// answer. One function, so the buyer CLI and any other lister choose the source the same way.
import type { Address } from "viem";
import { IndexerError, type IndexerClient } from "../indexer/client.ts";
import { allRows, channelsPage } from "../indexer/queries.ts";
import { listChannelsOf, statusOf, type ChainContext, type ChannelListing } from "./chain.ts";

export interface ChannelSource {
  indexer?: IndexerClient;
  /** Told when an indexer is configured but does not answer (the chain is scanned instead). */
  onIndexerFallback?: (error: IndexerError) => void;
}

/** Every channel `payer` opened, oldest first, from the indexer when it answers, else from ChannelOpened logs. */
export async function listChannels(ctx: ChainContext, payer: Address, fromBlock: bigint | undefined, source: ChannelSource = {}): Promise<ChannelListing[]> {
  if (source.indexer) {
    try {
      const rows = await allRows((page) => channelsPage(source.indexer!, { payer }, page));
      const block = await ctx.publicClient.getBlock({ blockTag: "latest" });
      return rows
        .filter((r) => fromBlock === undefined || r.openedBlock >= fromBlock)
        .map((r) => {
          const state = { deposit: r.deposit, claimed: r.claimed, closesAt: r.closesAt, settled: r.state === "settled" };
          return { channelId: r.channelId, terms: r.terms, state, status: statusOf(state, block.timestamp), openedAtBlock: r.openedBlock };
        });
    } catch (error) {
      if (!(error instanceof IndexerError) || error.code !== "indexer_unreachable") throw error;
      source.onIndexerFallback?.(error);
    }
  }
  const listed = await listChannelsOf(ctx, payer, fromBlock);
  return listed.sort((a, b) => (a.openedAtBlock < b.openedAtBlock ? -1 : a.openedAtBlock > b.openedAtBlock ? 1 : a.channelId.toLowerCase() < b.channelId.toLowerCase() ? -1 : 1));
}
