import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployCore } from "./core.ts";

/** Local chain: deploys the TestUSDC stand-in and the marketplace on top of it. */
export default buildModule("EdgepayLocal", (m) => {
  const token = m.contract("TestUSDC");
  return { token, ...deployCore(m, token) };
});
