// Public entry of the worker package: start a worker, load its config, create and register device keys.
export { startWorker, type RunningWorker, type StartOptions } from "./service.ts";
export { loadConfig, resolveConfig, ConfigError, workerConfigSchema, type WorkerConfig, type ResolvedConfig, type Contracts } from "./config.ts";
export { createKeystore, unlockKeystore, keystoreAddress, KeystoreError, PASSPHRASE_ENV } from "./keystore.ts";
export { registerDevice, signDeviceBinding, type RegisterArgs, type RegisterResult, type DeviceBinding } from "./register.ts";
export { SILERO_VAD_V5, PPOCR_DIRECTION_CLS, DEMO_MODELS } from "./models/demo.ts";
