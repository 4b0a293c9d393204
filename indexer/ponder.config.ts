// Ponder configuration: one chain, the marketplace's contracts, ABIs from the generated module.
import { answerDisputesAbi, deviceRegistryAbi, deviceReputationAbi, flightRecorderAbi, modelRegistryAbi, paymentChannelsAbi } from "@edgepay/protocol/generated/contracts";
import { createConfig } from "ponder";
import { readIndexerSettings } from "./deployment.ts";

const settings = readIndexerSettings();
const chain = "edgepay" as const;
// A FlightRecorder is optional in old deployments; without one, a zero address that never logs keeps the config static.
const NO_CONTRACT = "0x0000000000000000000000000000000000000000" as const;

export default createConfig({
  database: settings.databaseUrl ? { kind: "postgres", connectionString: settings.databaseUrl } : { kind: "pglite", directory: settings.pgliteDir },
  chains: {
    [chain]: {
      id: settings.chainId,
      rpc: settings.rpcUrl,
      pollingInterval: settings.pollingIntervalMs,
      // Hardhat and other dev chains reuse one chain id for every fresh chain: a shared RPC cache would mix them.
      disableCache: settings.chainId === 31337,
      ...(settings.getLogsRange ? { ethGetLogsBlockRange: settings.getLogsRange } : {}),
    },
  },
  contracts: {
    ModelRegistry: { chain, abi: modelRegistryAbi, address: settings.contracts.modelRegistry, startBlock: settings.startBlock },
    DeviceRegistry: { chain, abi: deviceRegistryAbi, address: settings.contracts.deviceRegistry, startBlock: settings.startBlock },
    // Receipts give each claim transaction's gas used.
    PaymentChannels: { chain, abi: paymentChannelsAbi, address: settings.contracts.paymentChannels, startBlock: settings.startBlock, includeTransactionReceipts: true },
    FlightRecorder: { chain, abi: flightRecorderAbi, address: settings.contracts.flightRecorder ?? NO_CONTRACT, startBlock: settings.startBlock },
    // Wrong-answer disputes and buyers' feedback: the reputation table (src/reputation.ts).
    AnswerDisputes: { chain, abi: answerDisputesAbi, address: settings.contracts.answerDisputes ?? NO_CONTRACT, startBlock: settings.startBlock },
    DeviceReputation: { chain, abi: deviceReputationAbi, address: settings.contracts.deviceReputation ?? NO_CONTRACT, startBlock: settings.startBlock },
  },
});
