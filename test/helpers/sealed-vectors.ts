// Test vectors of docs/protocol.md section 13 (sealed requests and answers), computed from the reference code
// (protocol/sealed.ts) with fixed keys: the channel of the main vectors (signer #3, device #9) and a fixed
// ephemeral key. `node test/helpers/sealed-vectors.ts` prints the JSON the doc embeds;
// test/integration/sealed-protocol.test.ts holds the doc, this code and the worker's native twin equal.
import { bytesToHex, hexToBytes, type Hex } from "viem";
import { HARDHAT_DEV_KEYS } from "../../protocol/dev-keys.ts";
import {
  anonymousSealKeys,
  channelSealKeys,
  requestAad,
  responseAad,
  sealRequest,
  sealResponse,
  sha256Hex,
  type SealContext,
  type SealKeys,
} from "../../protocol/sealed.ts";
import { inferPath, publicKeyOf, sessionKey } from "../../protocol/session.ts";
import { CHAIN_ID, DEVICE_KEY, PAYMENT_CHANNELS, SIGNER_KEY } from "./protocol-vectors.ts";

export const CHANNEL_ID = "0x5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9" as Hex;
/** A voucher signature as the header carries it (the AAD names it as text; it need not verify here). */
export const SIGNATURE = `0x${"ab".repeat(64)}1b` as Hex;
/** Hardhat dev key #7 as the fixed ephemeral key of the anonymous vector (a real client draws a fresh one). */
export const EPHEMERAL_KEY = HARDHAT_DEV_KEYS[7];
export const BODY = '{"inputs":{"x":{"type":"float32","dims":[1,2],"data":[0.5,-0.25]}}}';
export const ANSWER = '{"outputs":{"y":{"type":"float32","dims":[1],"data":[0.75]}}}';

export function channelContext(): Extract<SealContext, { kind: "channel" }> {
  return { kind: "channel", chainId: CHAIN_ID, paymentChannels: PAYMENT_CHANNELS, channelId: CHANNEL_ID, cumulativeAmount: 3000n, signature: SIGNATURE, modelId: 1n, method: "POST", path: inferPath(1n) };
}

const hexKeys = (k: SealKeys) => ({ requestEnc: bytesToHex(k.request.enc), requestIv: bytesToHex(k.request.iv), responseEnc: bytesToHex(k.response.enc), responseIv: bytesToHex(k.response.iv) });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

export async function computeSealedVectors() {
  const enc = new TextEncoder();
  const session = sessionKey(SIGNER_KEY, publicKeyOf(DEVICE_KEY), CHANNEL_ID);
  const keys = channelSealKeys(session);
  const ctx = channelContext();
  const request = await sealRequest(keys, ctx, "application/json", enc.encode(BODY));
  const requestHash = sha256Hex(request.body);
  const answer = await sealResponse(keys, ctx, requestHash, 200, "application/json; charset=utf-8", enc.encode(ANSWER));

  const anon = anonymousSealKeys(publicKeyOf(DEVICE_KEY), hexToBytes(EPHEMERAL_KEY));
  const anonCtx: SealContext = { kind: "anonymous", ephemeralPublicKey: anon.ephemeralPublicKey, devicePublicKey: publicKeyOf(DEVICE_KEY), method: "POST", path: "/v1/unpaid/infer/1" };
  const anonRequest = await sealRequest(anon.keys, anonCtx, "application/json", enc.encode(BODY));
  const anonRequestHash = sha256Hex(anonRequest.body);
  const anonAnswer = await sealResponse(anon.keys, anonCtx, anonRequestHash, 200, "application/json; charset=utf-8", enc.encode(ANSWER));
  return {
    channel: {
      channelId: CHANNEL_ID,
      sessionKey: bytesToHex(session),
      keys: hexKeys(keys),
      body: BODY,
      requestAad: text(requestAad(ctx, "application/json")),
      requestContentType: request.contentType,
      request: bytesToHex(request.body),
      requestSha256: requestHash,
      answer: ANSWER,
      responseAad: text(responseAad(ctx, requestHash, 200, "application/json; charset=utf-8")),
      responseContentType: answer.contentType,
      response: bytesToHex(answer.body),
    },
    anonymous: {
      ephemeralKey: EPHEMERAL_KEY,
      ephemeralPublicKey: anon.ephemeralPublicKey,
      devicePublicKey: publicKeyOf(DEVICE_KEY),
      keys: hexKeys(anon.keys),
      requestAad: text(requestAad(anonCtx, "application/json")),
      request: bytesToHex(anonRequest.body),
      requestSha256: anonRequestHash,
      response: bytesToHex(anonAnswer.body),
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await computeSealedVectors(), null, 2));
}
