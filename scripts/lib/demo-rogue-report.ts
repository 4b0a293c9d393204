// The rogue's part of the demo's closing report, read from the chain: when it was caught (the block current when
// the buyer's spot check failed, and the DisputeOpened block), what its channels paid its owner before (Claimed),
// its stake before and after, the dispute's outcome and split (DisputeResolved), and what checking cost: the
// verifier calls the buyers paid (device-signed receipts, covered by the verifiers' on-chain claims) and the gas of
// the reporter and the committee (transaction receipts).
import type { Address, Hex, PublicClient } from "viem";
import type { SpotCheckRecord } from "../../protocol/client/spot-check-records.ts";
import { answerDisputesAbi, deviceRegistryAbi, paymentChannelsAbi } from "../../protocol/generated/contracts.ts";
import { getContractEventsPaged } from "../../protocol/paged-logs.ts";
import { usdc } from "./demo-report.ts";

export interface RogueScope {
  paymentChannels: Address;
  deviceRegistry: Address;
  answerDisputes?: Address;
  rogue: { device: Address; owner: Address; probability: number };
  caught?: { buyer: Address; block: bigint; checkId: string };
  disputeId?: Hex;
  /** Every spot check the demo's buyers ran (their records: verifier, cost, verifier receipt). */
  checks: SpotCheckRecord[];
  fromBlock: bigint;
  toBlock: bigint;
}

export interface RogueReport {
  device: Address;
  owner: Address;
  probability: number;
  caught?: { buyer: Address; block: bigint; at: bigint; checkId: string };
  /** Provider share of the rogue's channels' claims in the run (Claimed), and the units they paid for. */
  earned: bigint;
  paid: bigint;
  stakeBefore: bigint;
  stakeAfter: bigint;
  statusAfter: number;
  dispute?: {
    id: Hex;
    openBlock: bigint;
    openedAt: bigint;
    reporter: Address;
    bond: bigint;
    resolved?: { block: bigint; at: bigint; outcome: number; votesRight: bigint; votesWrong: bigint; slashed: bigint; reporterPaid: bigint; verifiersPaid: bigint; treasuryPaid: bigint };
    reporterGas: bigint;
    committeeGas: bigint;
    committee: { verifier: Address; vote?: boolean }[];
  };
  checking: {
    checks: number;
    passed: number;
    failed: number;
    inconclusive: number;
    /** Sum of the verifier receipts' charges (units x price) the buyers paid for checks. */
    paidToVerifiers: bigint;
    /** Every verifier receipt is covered by its channel's claimed amount on-chain at the end. */
    coveredOnChain: boolean;
  };
}

const OUTCOMES = ["pending", "device lost", "reporter lost", "no decision"] as const;

export async function readRogueReport(client: PublicClient, s: RogueScope): Promise<RogueReport> {
  const range = { fromBlock: s.fromBlock, toBlock: s.toBlock };
  const device = s.rogue.device;
  const opened = await getContractEventsPaged(client, { address: s.paymentChannels, abi: paymentChannelsAbi, eventName: "ChannelOpened" }, range);
  const mine = new Map<string, bigint>(opened.filter((l) => l.args.device!.toLowerCase() === device.toLowerCase()).map((l) => [l.args.channelId!, l.args.terms!.price]));
  const claims = (await getContractEventsPaged(client, { address: s.paymentChannels, abi: paymentChannelsAbi, eventName: "Claimed" }, range)).filter((c) => mine.has(c.args.channelId!));
  const earned = claims.reduce((a, c) => a + c.args.providerAmount!, 0n);
  const paid = claims.reduce((a, c) => a + c.args.providerAmount! + c.args.royalty!, 0n);
  const at = (blockNumber: bigint) => client.readContract({ address: s.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device], blockNumber });
  const before = await at(s.fromBlock);
  const after = await at(s.toBlock);

  let dispute: RogueReport["dispute"];
  if (s.answerDisputes && s.disputeId) {
    const id = s.disputeId;
    const ad = s.answerDisputes;
    const [open] = await client.getContractEvents({ address: ad, abi: answerDisputesAbi, eventName: "DisputeOpened", args: { id }, ...range });
    if (open) {
      const [resolvedLog] = await client.getContractEvents({ address: ad, abi: answerDisputesAbi, eventName: "DisputeResolved", args: { id }, ...range });
      const seated = await client.getContractEvents({ address: ad, abi: answerDisputesAbi, eventName: "MemberSeated", args: { id }, ...range });
      const revealed = await client.getContractEvents({ address: ad, abi: answerDisputesAbi, eventName: "VoteRevealed", args: { id }, ...range });
      const committed = await client.getContractEvents({ address: ad, abi: answerDisputesAbi, eventName: "VoteCommitted", args: { id }, ...range });
      const gasOf = async (hashes: Hex[]) => {
        let g = 0n;
        for (const hash of new Set(hashes)) g += (await client.getTransactionReceipt({ hash })).gasUsed;
        return g;
      };
      // The reporter's transactions: its commitment (same sender, the block before), the open, the draw, resolve.
      const reporter = open.args.reporter!;
      const reporterTxs: Hex[] = [open.transactionHash!];
      for (let n = open.blockNumber! - 1n; n <= s.toBlock && n >= s.fromBlock; n++) {
        const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
        for (const tx of block.transactions) if (tx.from.toLowerCase() === reporter.toLowerCase() && tx.to?.toLowerCase() === ad.toLowerCase()) reporterTxs.push(tx.hash);
      }
      const openBlock = await client.getBlock({ blockNumber: open.blockNumber! });
      const resolvedBlock = resolvedLog ? await client.getBlock({ blockNumber: resolvedLog.blockNumber! }) : undefined;
      const r = resolvedLog?.args;
      dispute = {
        id,
        openBlock: open.blockNumber!,
        openedAt: openBlock.timestamp,
        reporter,
        bond: open.args.bond!,
        ...(r && resolvedBlock
          ? {
              resolved: {
                block: resolvedBlock.number,
                at: resolvedBlock.timestamp,
                outcome: Number(r.outcome),
                votesRight: r.votesRight!,
                votesWrong: r.votesWrong!,
                slashed: r.slashed!,
                reporterPaid: r.reporterPaid!,
                verifiersPaid: r.verifiersPaid!,
                treasuryPaid: r.treasuryPaid!,
              },
            }
          : {}),
        reporterGas: await gasOf(reporterTxs),
        committeeGas: await gasOf([...committed, ...revealed].map((l) => l.transactionHash!)),
        committee: seated.map((l) => {
          const v = revealed.find((x) => x.args.verifier!.toLowerCase() === l.args.verifier!.toLowerCase());
          return { verifier: l.args.verifier!, ...(v ? { vote: v.args.deviceRight! } : {}) };
        }),
      };
    }
  }

  // Checks: what the buyers paid their verifiers, per device-signed verifier receipt (units x channel price), and
  // whether each receipt's cumulative amount is within what its channel had claimed on-chain by the end.
  let paidToVerifiers = 0n;
  let coveredOnChain = true;
  const claimedOf = new Map<string, bigint>();
  for (const c of s.checks) {
    const r = c.evidence?.verifierReceipt;
    paidToVerifiers += c.cost;
    if (!r) continue;
    if (!claimedOf.has(r.channelId)) {
      const ch = await client.readContract({ address: s.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [r.channelId], blockNumber: s.toBlock });
      claimedOf.set(r.channelId, ch.claimed);
    }
    if (r.cumulativeAmount > claimedOf.get(r.channelId)!) coveredOnChain = false;
  }
  const count = (o: string) => s.checks.filter((c) => c.outcome === o).length;
  let caught: RogueReport["caught"];
  if (s.caught) caught = { ...s.caught, at: (await client.getBlock({ blockNumber: s.caught.block })).timestamp };
  return {
    device,
    owner: s.rogue.owner,
    probability: s.rogue.probability,
    ...(caught ? { caught } : {}),
    earned,
    paid,
    stakeBefore: before.stake,
    stakeAfter: after.stake,
    statusAfter: after.status,
    ...(dispute ? { dispute } : {}),
    checking: { checks: s.checks.length, passed: count("passed"), failed: count("failed"), inconclusive: count("inconclusive"), paidToVerifiers, coveredOnChain },
  };
}

const time = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace(".000Z", "Z");

export function formatRogueReport(r: RogueReport): string {
  const out: string[] = [`Rogue device ${r.device} (wrong on ${(r.probability * 100).toFixed(0)} % of calls, owner ${r.owner})`];
  out.push(
    r.caught
      ? `  caught: spot check ${r.caught.checkId.slice(0, 12)}…:${r.caught.checkId.split(":")[1]} by ${r.caught.buyer} failed at block ${r.caught.block} (${time(r.caught.at)})`
      : "  not caught during the run (no failed spot check)",
  );
  out.push(`  earned before: ${usdc(r.earned)} USDC to its owner (${usdc(r.paid)} claimed on its channels, incl. royalty)`);
  const d = r.dispute;
  if (d) {
    out.push(`  dispute ${d.id.slice(0, 12)}… opened at block ${d.openBlock} (${time(d.openedAt)}) by ${d.reporter}, bond ${usdc(d.bond)}`);
    out.push(`  committee (the demo's honest devices; votes cast by this script with their device keys): ${d.committee.map((c) => `${c.verifier.slice(0, 8)}… ${c.vote === undefined ? "no vote" : c.vote ? "right" : "wrong"}`).join(", ")}`);
    if (d.resolved) {
      const x = d.resolved;
      out.push(`  resolved at block ${x.block} (${time(x.at)}, chain clock advanced past the vote windows): ${OUTCOMES[x.outcome] ?? x.outcome}, ${x.votesWrong} wrong / ${x.votesRight} right`);
      out.push(
        `  lost: ${usdc(x.slashed)} USDC of stake (stake ${usdc(r.stakeBefore)} -> ${usdc(r.stakeAfter)}): ${usdc(x.reporterPaid - d.bond)} reward to the reporter (+ its bond back), ${usdc(x.verifiersPaid)} to the committee, ${usdc(x.treasuryPaid)} to the treasury`,
      );
    } else out.push(`  not resolved yet (stake ${usdc(r.stakeBefore)} -> ${usdc(r.stakeAfter)})`);
    out.push(`  gas: reporter ${d.reporterGas} (commit, open, draw, resolve), committee ${d.committeeGas} (commit and reveal votes)`);
  } else out.push(`  stake ${usdc(r.stakeBefore)} -> ${usdc(r.stakeAfter)}; no dispute opened`);
  const c = r.checking;
  out.push(
    `  checking: ${c.checks} spot checks by the buyers (${c.passed} passed, ${c.failed} failed, ${c.inconclusive} inconclusive), ${usdc(c.paidToVerifiers)} USDC paid to verifier devices; ` +
      `verifier receipts covered by on-chain claims: ${c.coveredOnChain ? "yes" : "NO"}`,
  );
  return out.join("\n");
}
