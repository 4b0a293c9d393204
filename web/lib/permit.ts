// EIP-2612 permit signing through the connected wallet, for openWithPermit / topUpWithPermit.
import { parseSignature, type Address } from "viem";
import { getEip712Domain } from "viem/actions";
import type { Config } from "wagmi";
import { getPublicClient, readContract, signTypedData } from "wagmi/actions";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { permitTypes } from "../../protocol/eip712.ts";

export async function signPermit(config: Config, args: { owner: Address; token: Address; spender: Address; value: bigint }) {
  const client = getPublicClient(config)!;
  const [{ domain }, nonce, block] = await Promise.all([
    getEip712Domain(client, { address: args.token }),
    readContract(config, { address: args.token, abi: testUsdcAbi, functionName: "nonces", args: [args.owner] }),
    client.getBlock({ blockTag: "latest" }),
  ]);
  // Deadline from chain time: a local chain's clock may run ahead of the browser's.
  const deadline = block.timestamp + 3600n;
  const signature = await signTypedData(config, {
    account: args.owner,
    domain: { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    types: permitTypes,
    primaryType: "Permit",
    message: { owner: args.owner, spender: args.spender, value: args.value, nonce, deadline },
  });
  const { r, s, v, yParity } = parseSignature(signature);
  return { deadline, r, s, v: Number(v ?? BigInt(yParity + 27)) };
}
