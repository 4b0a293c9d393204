import type { ArgumentType, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";

/** The marketplace contracts, wired together, for a given payment/stake token. */
export function deployCore(m: IgnitionModuleBuilder, token: ArgumentType) {
  const admin = m.getAccount(0);
  // 10 tokens of a 6-decimal token; 7 days unbonding; 1 hour challenge period (parameters override).
  const minStake = m.getParameter("minStake", 10_000_000n);
  const unbondingDelay = m.getParameter("unbondingDelay", 7n * 24n * 3600n);
  const challengePeriod = m.getParameter("challengePeriod", 3600n);
  // Flight recorder disputes: a proven dispute takes the whole stake, 20 % of it to the reporter and the rest to
  // the treasury (the deployer unless set). The reporter share is kept small because it is also what a cheating
  // provider recovers by reporting its own device first. A device has 1 day to answer an omission challenge (less
  // than the unbonding delay, or the constructor refuses), which costs a 1-token bond: more than the gas of
  // answering a false one, paid to the device owner when it does.
  const treasury = m.getParameter("treasury", admin);
  const slashBps = m.getParameter("slashBps", 10_000n);
  const reporterBps = m.getParameter("reporterBps", 2_000n);
  const answerWindow = m.getParameter("answerWindow", 24n * 3600n);
  const challengeBond = m.getParameter("challengeBond", 1_000_000n);

  // Wrong-answer disputes (README, "Disputes about wrong answers"): committees of 3 verifiers; a device found wrong
  // loses its whole stake, 20 % to the reporter, 30 % to the majority verifiers, the rest to the treasury; a false
  // reporter loses its 5-token bond (30 % to the majority verifiers, the rest to the device owner); a verifier that
  // does not reveal or votes against the majority loses half its 1-token bond. 1 hour to commit, 1 hour to reveal.
  const disputeConfig = {
    treasury,
    committeeSize: m.getParameter("committeeSize", 3n),
    slashBps,
    reporterBps,
    verifierBps: m.getParameter("verifierBps", 3_000n),
    penaltyBps: m.getParameter("penaltyBps", 5_000n),
    commitWindow: m.getParameter("voteCommitWindow", 3600n),
    revealWindow: m.getParameter("voteRevealWindow", 3600n),
    reporterBond: m.getParameter("reporterBond", 5_000_000n),
    verifierBond: m.getParameter("verifierBond", 1_000_000n),
  };

  const modelRegistry = m.contract("ModelRegistry");
  const deviceRegistry = m.contract("DeviceRegistry", [token, minStake, unbondingDelay, modelRegistry, admin]);
  const paymentChannels = m.contract("PaymentChannels", [deviceRegistry, modelRegistry, challengePeriod]);
  const flightRecorder = m.contract("FlightRecorder", [
    paymentChannels,
    deviceRegistry,
    treasury,
    slashBps,
    reporterBps,
    answerWindow,
    challengeBond,
  ]);
  // The registry consults one stake guard: AnswerDisputes is it and passes the recorder's lock on (innerGuard).
  const answerDisputes = m.contract("AnswerDisputes", [paymentChannels, deviceRegistry, modelRegistry, flightRecorder, disputeConfig]);
  // Feedback from buyers that paid a device (README, "Reputation"): no parameters, no admin.
  const deviceReputation = m.contract("DeviceReputation", [paymentChannels, deviceRegistry]);
  const slasherRole = m.staticCall(deviceRegistry, "SLASHER_ROLE");
  const grant = m.call(deviceRegistry, "grantRole", [slasherRole, flightRecorder], { from: admin, id: "GrantSlasherToFlightRecorder" });
  const grantDisputes = m.call(deviceRegistry, "grantRole", [slasherRole, answerDisputes], {
    from: admin,
    id: "GrantSlasherToAnswerDisputes",
    after: [grant],
  });
  // Stakes stay while disputes of either kind are open or can still be opened (DeviceRegistry.withdrawStake).
  const guard = m.call(deviceRegistry, "setStakeGuard", [answerDisputes], { from: admin, id: "SetStakeGuard", after: [grantDisputes] });
  // Wired once, then nobody administers roles: the deployer renounces DEFAULT_ADMIN_ROLE, so no key can ever grant
  // itself SLASHER_ROLE and take stakes (README, "Tokens and trust model").
  const adminRole = m.staticCall(deviceRegistry, "DEFAULT_ADMIN_ROLE", [], 0, { id: "AdminRole" });
  m.call(deviceRegistry, "renounceRole", [adminRole, admin], { from: admin, id: "RenounceAdmin", after: [grant, grantDisputes, guard] });
  return { modelRegistry, deviceRegistry, paymentChannels, flightRecorder, answerDisputes, deviceReputation };
}
