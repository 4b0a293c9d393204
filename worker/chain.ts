// The worker's view of the chain: typed reads of the three contracts and channel discovery by event.
import { createPublicClient, http, type Address, type Hex, type PublicClient } from "viem";
import { deviceRegistryAbi, modelRegistryAbi, paymentChannelsAbi } from "@edgepay/protocol/generated/contracts";
import type { Contracts } from "./config.ts";

export interface OnchainChannel {
  deposit: bigint;
  claimed: bigint;
  closesAt: number;
  settled: boolean;
}

export class ChainReader {
  readonly client: PublicClient;
  readonly contracts: Contracts;
  readonly fromBlock: bigint;

  constructor(rpcUrl: string, contracts: Contracts, fromBlock = 0n) {
    // Polling transport, no batching: the worker makes few calls and wants each one's error on its own.
    this.client = createPublicClient({ transport: http(rpcUrl, { retryCount: 2, timeout: 15_000 }) });
    this.contracts = contracts;
    this.fromBlock = fromBlock;
  }

  chainId(): Promise<number> {
    return this.client.getChainId();
  }

  async channel(id: Hex): Promise<OnchainChannel> {
    const c = await this.client.readContract({ address: this.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "getChannel", args: [id] });
    return { deposit: c.deposit, claimed: c.claimed, closesAt: Number(c.closesAt), settled: c.settled };
  }

  async model(modelId: bigint) {
    return this.client.readContract({ address: this.contracts.modelRegistry, abi: modelRegistryAbi, functionName: "getModel", args: [modelId] });
  }

  /** The device record; undefined when the device was never registered. */
  async device(device: Address) {
    return this.client
      .readContract({ address: this.contracts.deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] })
      .catch((error: unknown) => {
        if (String((error as Error).message).includes("DeviceNotFound")) return undefined;
        throw error;
      });
  }

  async offeringPrice(device: Address, modelId: bigint, token: Address): Promise<bigint> {
    return BigInt(
      await this.client.readContract({
        address: this.contracts.deviceRegistry,
        abi: deviceRegistryAbi,
        functionName: "offeringPrice",
        args: [device, modelId, token],
      }),
    );
  }

  async challengePeriod(): Promise<number> {
    return Number(await this.client.readContract({ address: this.contracts.paymentChannels, abi: paymentChannelsAbi, functionName: "challengePeriod" }));
  }
}
