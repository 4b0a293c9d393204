import type { ArgumentType, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";

/** The three marketplace contracts, wired together, for a given payment/stake token. */
export function deployCore(m: IgnitionModuleBuilder, token: ArgumentType) {
  const admin = m.getAccount(0);
  // 10 tokens of a 6-decimal token; 7 days unbonding; 1 hour challenge period (parameters override).
  const minStake = m.getParameter("minStake", 10_000_000n);
  const unbondingDelay = m.getParameter("unbondingDelay", 7n * 24n * 3600n);
  const challengePeriod = m.getParameter("challengePeriod", 3600n);

  const modelRegistry = m.contract("ModelRegistry");
  const deviceRegistry = m.contract("DeviceRegistry", [token, minStake, unbondingDelay, modelRegistry, admin]);
  const paymentChannels = m.contract("PaymentChannels", [deviceRegistry, modelRegistry, challengePeriod]);
  return { modelRegistry, deviceRegistry, paymentChannels };
}
