// Checks a device registration before any transaction: the binding's signature recovers to the device for this
// owner and registry, its deadline is ahead of chain time, the stake meets the minimum and the wallet holds it.
import { isAddressEqual, recoverTypedDataAddress, type Address } from "viem";
import type { Config } from "wagmi";
import { getBlock, readContract } from "wagmi/actions";
import { testUsdcAbi } from "../../protocol/generated/contracts.ts";
import { deviceBindingTypes, deviceRegistryDomain } from "../../protocol/eip712.ts";
import type { DeviceBinding } from "./binding.ts";

/** A sentence saying what would make `register` fail, or undefined when it can be sent. */
export async function checkRegistration(
  config: Config,
  a: { binding: DeviceBinding; owner: Address; stake: bigint; stakeToken: Address; minStake?: bigint; chainId: number; deviceRegistry: Address; format: (v: bigint) => string },
): Promise<string | undefined> {
  const { binding: b } = a;
  const signer = await recoverTypedDataAddress({
    domain: deviceRegistryDomain(a.chainId, a.deviceRegistry),
    types: deviceBindingTypes,
    primaryType: "DeviceBinding",
    message: { device: b.device, owner: a.owner, deadline: b.deadline },
    signature: b.signature,
  }).catch(() => undefined);
  if (!signer || !isAddressEqual(signer, b.device)) {
    return `The binding signature is not the device's for your wallet on this registry (it recovers to ${signer ?? "nothing"}, the device is ${b.device}). Run the worker's init --owner ${a.owner} again.`;
  }
  const block = await getBlock(config);
  if (b.deadline <= block.timestamp) return `The binding expired (deadline ${b.deadline}, chain time ${block.timestamp}). Run the worker's init again.`;
  if (a.minStake !== undefined && a.stake < a.minStake) return `The stake ${a.format(a.stake)} is below the minimum of ${a.format(a.minStake)}.`;
  const balance = await readContract(config, { address: a.stakeToken, abi: testUsdcAbi, functionName: "balanceOf", args: [a.owner] });
  if (balance < a.stake) return `Your balance is ${a.format(balance)}: not enough to stake ${a.format(a.stake)}.`;
  return undefined;
}
