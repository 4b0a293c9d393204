// The device key at rest: an encrypted keystore file (scrypt + AES-256-GCM from node:crypto), owner-only permissions.
// The passphrase comes from EDGEPAY_KEY_PASSPHRASE; without it, `init` generates one into a 0600 file beside the
// keystore (protects against leaking the keystore alone, e.g. in a backup; set the variable for real protection).
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { bytesToHex, type Address, type Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { z } from "zod";

export const KEYSTORE_FILE = "device-key.json";
export const PASSPHRASE_FILE = "device-key.passphrase";
export const PASSPHRASE_ENV = "EDGEPAY_KEY_PASSPHRASE";

// N=2^15, r=8: ~32 MiB and ~100 ms per unlock; the key is unlocked once per start.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, keylen: 32, maxmem: 64 * 1024 * 1024 } as const;

const hex = z.string().regex(/^[0-9a-f]+$/);
const keystoreSchema = z.object({
  version: z.literal(1),
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  kdf: z.object({ name: z.literal("scrypt"), N: z.number(), r: z.number(), p: z.number(), salt: hex }),
  cipher: z.object({ name: z.literal("aes-256-gcm"), iv: hex, tag: hex }),
  ciphertext: hex,
});

export class KeystoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeystoreError";
  }
}

function deriveKey(passphrase: string, salt: Buffer, N: number, r: number, p: number): Buffer {
  return scryptSync(passphrase.normalize("NFKC"), salt, SCRYPT.keylen, { N, r, p, maxmem: SCRYPT.maxmem });
}

/** Where the passphrase comes from: the environment, else the generated file, else (create only) a new one. */
function passphraseFor(dataDir: string, env: NodeJS.ProcessEnv, create: boolean): string {
  const fromEnv = env[PASSPHRASE_ENV];
  if (fromEnv) return fromEnv;
  const file = path.join(dataDir, PASSPHRASE_FILE);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  if (!create) throw new KeystoreError(`no passphrase: set ${PASSPHRASE_ENV} (or restore ${file})`);
  const generated = randomBytes(32).toString("base64url");
  writeFileSync(file, generated + "\n", { mode: 0o600, flag: "wx" });
  return generated;
}

export function keystorePath(dataDir: string): string {
  return path.join(dataDir, KEYSTORE_FILE);
}

/**
 * Creates a new device key in `dataDir` (refuses to overwrite one). Returns its address and, for callers that
 * register it in the same process (tests, `init --owner`), the private key; the CLI never prints it.
 */
export function createKeystore(dataDir: string, env: NodeJS.ProcessEnv = process.env): { address: Address; privateKey: Hex; file: string } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = keystorePath(dataDir);
  if (existsSync(file)) throw new KeystoreError(`${file} exists already; a device keeps its key (delete the file to start over)`);
  const privateKey = bytesToHex(randomBytes(32));
  writeKeystore(file, privateKey, passphraseFor(dataDir, env, true));
  return { address: privateKeyToAddress(privateKey), privateKey, file };
}

/** Encrypts `privateKey` into `file` (0600). */
export function writeKeystore(file: string, privateKey: Hex, passphrase: string) {
  const salt = randomBytes(32);
  const iv = randomBytes(12);
  const key = deriveKey(passphrase, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const address = privateKeyToAddress(privateKey);
  // The address is authenticated data: a keystore whose address was edited fails to open.
  cipher.setAAD(Buffer.from(address.toLowerCase()));
  const ciphertext = Buffer.concat([cipher.update(Buffer.from(privateKey.slice(2), "hex")), cipher.final()]);
  const body = {
    version: 1,
    address,
    kdf: { name: "scrypt", N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString("hex") },
    cipher: { name: "aes-256-gcm", iv: iv.toString("hex"), tag: cipher.getAuthTag().toString("hex") },
    ciphertext: ciphertext.toString("hex"),
  };
  writeFileSync(file, JSON.stringify(body, null, 2) + "\n", { mode: 0o600, flag: "wx" });
  chmodSync(file, 0o600);
}

/** The address in a keystore, without unlocking it. */
export function keystoreAddress(dataDir: string): Address {
  return readKeystoreFile(keystorePath(dataDir)).address as Address;
}

/** Decrypts the device key of `dataDir`. */
export function unlockKeystore(dataDir: string, env: NodeJS.ProcessEnv = process.env): { address: Address; privateKey: Hex } {
  const file = keystorePath(dataDir);
  const ks = readKeystoreFile(file);
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new KeystoreError(`${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  const key = deriveKey(passphraseFor(dataDir, env, false), Buffer.from(ks.kdf.salt, "hex"), ks.kdf.N, ks.kdf.r, ks.kdf.p);
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(ks.cipher.iv, "hex"));
  decipher.setAAD(Buffer.from(ks.address.toLowerCase()));
  decipher.setAuthTag(Buffer.from(ks.cipher.tag, "hex"));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(Buffer.from(ks.ciphertext, "hex")), decipher.final()]);
  } catch {
    throw new KeystoreError(`cannot unlock ${file}: wrong passphrase (${PASSPHRASE_ENV}) or a damaged file`);
  }
  const privateKey = bytesToHex(plain);
  const address = privateKeyToAddress(privateKey);
  if (address.toLowerCase() !== ks.address.toLowerCase()) throw new KeystoreError(`${file}: key does not match its address`);
  return { address, privateKey };
}

function readKeystoreFile(file: string) {
  if (!existsSync(file)) throw new KeystoreError(`no device key at ${file}: run \`worker/cli.ts init\` first`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new KeystoreError(`${file} is not valid JSON`);
  }
  const parsed = keystoreSchema.safeParse(json);
  if (!parsed.success) throw new KeystoreError(`${file} is not an Edgepay keystore (version 1)`);
  return parsed.data;
}
