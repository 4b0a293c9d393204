// Encrypted backup of this browser's channel session keys: PBKDF2-SHA256 (600,000 iterations) derives an AES-GCM
// key from a passphrase; the file holds salt, iv and ciphertext only. A wrong passphrase or a changed file fails
// the GCM tag check, so nothing half-decrypted is ever imported.
import { channelRecordFromJson, channelRecordToJson, type ChannelRecord, type ChannelRecordJson } from "../../protocol/client/store.ts";

export const BACKUP_FORMAT = "edgepay-session-keys";
const ITERATIONS = 600_000;

export interface KeyBackupFile {
  format: typeof BACKUP_FORMAT;
  version: 1;
  kdf: { name: "PBKDF2"; hash: "SHA-256"; iterations: number; salt: string };
  cipher: { name: "AES-GCM"; iv: string };
  ciphertext: string;
  channels: number;
  createdAt: string;
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations }, material, { name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
}

export function passphraseProblem(passphrase: string): string | undefined {
  if (passphrase.length < 10) return "Use a passphrase of at least 10 characters: the file holds keys that can spend your deposits.";
  return undefined;
}

export async function encryptKeys(records: readonly ChannelRecord[], passphrase: string): Promise<KeyBackupFile> {
  const problem = passphraseProblem(passphrase);
  if (problem) throw new Error(problem);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await deriveKey(passphrase, salt, ITERATIONS);
  const plain = new TextEncoder().encode(JSON.stringify(records.map(channelRecordToJson)));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: iv as BufferSource }, key, plain));
  return {
    format: BACKUP_FORMAT,
    version: 1,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations: ITERATIONS, salt: b64(salt) },
    cipher: { name: "AES-GCM", iv: b64(iv) },
    ciphertext: b64(sealed),
    channels: records.length,
    createdAt: new Date().toISOString(),
  };
}

export async function decryptKeys(text: string, passphrase: string): Promise<ChannelRecord[]> {
  let file: KeyBackupFile;
  try {
    file = JSON.parse(text) as KeyBackupFile;
  } catch {
    throw new Error("This is not an Edgepay session-key backup (not JSON).");
  }
  if (file?.format !== BACKUP_FORMAT || file.version !== 1 || file.kdf?.name !== "PBKDF2" || file.cipher?.name !== "AES-GCM") {
    throw new Error("This is not an Edgepay session-key backup (unknown format).");
  }
  const key = await deriveKey(passphrase, unb64(file.kdf.salt), file.kdf.iterations);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(file.cipher.iv) as BufferSource }, key, unb64(file.ciphertext) as BufferSource);
  } catch {
    throw new Error("Wrong passphrase, or the file was changed: nothing was imported.");
  }
  return (JSON.parse(new TextDecoder().decode(plain)) as ChannelRecordJson[]).map(channelRecordFromJson);
}
