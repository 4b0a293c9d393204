// Who the worker is: the device key it offers must be the key of a device registered on-chain, and the very device
// the buyer meant (the channel's, or the one it picked from the DeviceRegistry). This is the whole PKI of sealed
// requests: an address in the DeviceRegistry is keccak256 of a public key, so a key that hashes to it is the
// device's, with no certificate authority. A relay that answers /v1/offerings with its own key fails here.
import { isAddressEqual, type Address, type Hex, type PublicClient } from "viem";
import { deviceRegistryAbi } from "../generated/contracts.ts";
import { describeContractError, EdgepayClientError } from "./errors.ts";
import { addressOfPublicKey } from "./keys.ts";

export interface OfferedIdentity {
  device: string;
  devicePublicKey: string;
}

/** Throws device_key_mismatch when the offered key is not the offered device's, or not the `expected` device. */
export function checkOfferedKey(endpoint: string, offered: OfferedIdentity, expected?: Address): { device: Address; devicePublicKey: Hex } {
  const keyAddress = addressOfPublicKey(offered.devicePublicKey as Hex);
  if (!keyAddress || !isAddressEqual(keyAddress, offered.device as Address)) {
    throw new EdgepayClientError(
      "device_key_mismatch",
      `${endpoint}: the offered device key ${offered.devicePublicKey} belongs to ${keyAddress ?? "no address (not a secp256k1 point)"}, but the offerings name device ${offered.device}; refusing to send anything to it`,
    );
  }
  if (expected && !isAddressEqual(expected, keyAddress)) {
    throw new EdgepayClientError(
      "device_key_mismatch",
      `${endpoint}: its device key belongs to ${keyAddress}, but the device registered for this request is ${expected}; refusing to send anything to it`,
    );
  }
  return { device: keyAddress, devicePublicKey: offered.devicePublicKey as Hex };
}

/** Throws device_not_registered when `device` has no registration in the DeviceRegistry (status None). */
export async function checkRegistered(publicClient: PublicClient, deviceRegistry: Address, endpoint: string, device: Address): Promise<void> {
  let status: number;
  try {
    status = (await publicClient.readContract({ address: deviceRegistry, abi: deviceRegistryAbi, functionName: "getDevice", args: [device] })).status;
  } catch (error) {
    // getDevice reverts DeviceNotFound for an address never registered; anything else (RPC down) is not an answer.
    if (!describeContractError(error).startsWith("DeviceNotFound")) throw error;
    status = 0;
  }
  if (status === 0) {
    throw new EdgepayClientError("device_not_registered", `${endpoint}: device ${device} is not registered in the DeviceRegistry ${deviceRegistry}; its key cannot be checked, nothing is sent to it`);
  }
}
