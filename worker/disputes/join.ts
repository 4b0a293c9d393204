// `worker/cli.ts join-pool`: the device owner puts the device in the verifier pools of the models it verifies
// (AnswerDisputes.joinPool pulls the owner's bond, so the device key cannot do it itself).
import { createPublicClient, createWalletClient, http, type Address, type Chain, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { answerDisputesAbi } from "@edgepay/protocol/generated/contracts";
import { joinVerifierPool } from "@edgepay/protocol/client/answer-dispute";

export async function joinPools(args: { rpcUrl: string; answerDisputes: Address; ownerKey: Hex; device: Address; modelIds: bigint[]; log: (line: string) => void }) {
  const transport = http(args.rpcUrl);
  const publicClient = createPublicClient({ transport });
  const chainId = await publicClient.getChainId();
  const chain = { id: chainId, name: `chain-${chainId}`, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [args.rpcUrl] } } } as Chain;
  const wallet = createWalletClient({ account: privateKeyToAccount(args.ownerKey), chain, transport });
  const ctx = { publicClient, answerDisputes: args.answerDisputes };
  for (const modelId of args.modelIds) {
    const v = await publicClient.readContract({ address: args.answerDisputes, abi: answerDisputesAbi, functionName: "getVerifier", args: [modelId, args.device] });
    if (v.index !== 0) {
      args.log(`model ${modelId}: ${args.device} is in the pool already (bond ${v.bond})`);
      continue;
    }
    const hash = await joinVerifierPool(ctx, wallet, modelId, args.device);
    args.log(`model ${modelId}: ${args.device} joined the verifier pool (tx ${hash})`);
  }
}
