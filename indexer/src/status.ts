// DeviceRegistry.Status by its uint8 value (IDeviceRegistry.sol's enum order).
const STATUS_NAMES = ["none", "active", "paused", "exiting", "removed", "withdrawn"] as const;
export type DeviceStatus = (typeof STATUS_NAMES)[number];

export function deviceStatusName(value: number): DeviceStatus | `unknown(${number})` {
  return STATUS_NAMES[value] ?? `unknown(${value})`;
}
