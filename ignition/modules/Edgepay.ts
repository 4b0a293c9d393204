import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { deployCore } from "./core.ts";

/** Production deployment: the payment/stake token is an existing ERC-20 given as the `token` parameter. */
export default buildModule("Edgepay", (m) => {
  const token = m.getParameter<string>("token");
  return deployCore(m, token);
});
