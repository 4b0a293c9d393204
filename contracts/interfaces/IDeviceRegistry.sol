// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IStakeGuard} from "./IStakeGuard.sol";

/// @title IDeviceRegistry
/// @notice Providers register edge devices (identified by the device's own signing key), stake, and publish
/// per-model offerings. A device key proves it consents to its owner with an EIP-712 binding signature.
interface IDeviceRegistry {
    /// @notice Life cycle of a device.
    enum Status {
        /// @notice Never registered.
        None,
        /// @notice Serving: new channels may open.
        Active,
        /// @notice Temporarily not accepting new channels.
        Paused,
        /// @notice Left the market; stake unbonding.
        Exiting,
        /// @notice Removed by a slash; remaining stake unbonding.
        Removed,
        /// @notice Stake withdrawn; final.
        Withdrawn
    }

    /// @notice A registered device.
    struct Device {
        /// @notice Provider wallet that controls the device and receives its earnings.
        address owner;
        /// @notice Life-cycle status.
        Status status;
        /// @notice When the stake can be withdrawn (Exiting/Removed only).
        uint40 unbondingEnds;
        /// @notice Staked amount of the stake token.
        uint96 stake;
        /// @notice HTTP endpoint of the worker.
        string endpoint;
        /// @notice Free-form metadata (hardware class, region), JSON by convention.
        string metadata;
    }

    /// @notice The device key is already registered (devices cannot be registered twice).
    /// @param device The device key address.
    error DeviceAlreadyRegistered(address device);
    /// @notice The device is not registered.
    /// @param device The device key address.
    error DeviceNotFound(address device);
    /// @notice The caller does not own the device.
    /// @param device The device.
    /// @param caller The caller.
    error NotDeviceOwner(address device, address caller);
    /// @notice The binding signature was not made by the device key for this owner.
    /// @param device The device key that should have signed.
    /// @param recovered The address the signature recovers to.
    error InvalidBinding(address device, address recovered);
    /// @notice The binding signature's deadline has passed.
    /// @param deadline The deadline signed.
    /// @param timestamp The current block time.
    error BindingExpired(uint256 deadline, uint256 timestamp);
    /// @notice The stake is below the minimum.
    /// @param stake The stake offered.
    /// @param minStake The minimum.
    error StakeTooLow(uint256 stake, uint256 minStake);
    /// @notice The device is not in a status that allows this call.
    /// @param device The device.
    /// @param status Its current status.
    error InvalidDeviceStatus(address device, Status status);
    /// @notice The device owner holds no license for the model.
    /// @param modelId The model.
    /// @param owner The device owner.
    error ModelNotLicensed(uint256 modelId, address owner);
    /// @notice The device does not offer the model in that token.
    /// @param device The device.
    /// @param modelId The model.
    /// @param token The payment token.
    error OfferingNotFound(address device, uint256 modelId, address token);
    /// @notice The stake is still unbonding.
    /// @param device The device.
    /// @param unbondingEnds When it can be withdrawn.
    error StillUnbonding(address device, uint256 unbondingEnds);
    /// @notice The slash is larger than the stake.
    /// @param amount The slash requested.
    /// @param stake The stake left.
    error SlashExceedsStake(uint256 amount, uint256 stake);
    /// @notice Disputes against the device are open: its stake stays until they are answered or enforced.
    /// @param device The device.
    /// @param openDisputes How many are open.
    error DisputesOpen(address device, uint256 openDisputes);
    /// @notice The stake guard is wired once, at deployment.
    /// @param guard The guard already set.
    error StakeGuardAlreadySet(address guard);
    /// @notice An address argument is zero.
    error ZeroAddress();
    /// @notice The endpoint is empty.
    error EmptyEndpoint();
    /// @notice An amount argument is zero.
    error ZeroAmount();

    /// @notice A device was registered.
    /// @param device The device key address.
    /// @param owner The provider wallet.
    /// @param stake The initial stake.
    /// @param endpoint The worker endpoint.
    /// @param metadata Device metadata.
    event DeviceRegistered(address indexed device, address indexed owner, uint256 stake, string endpoint, string metadata);
    /// @notice Stake was added.
    /// @param device The device.
    /// @param amount Amount added.
    /// @param stake New total stake.
    event StakeAdded(address indexed device, uint256 amount, uint256 stake);
    /// @notice The endpoint or metadata changed.
    /// @param device The device.
    /// @param endpoint The new endpoint.
    /// @param metadata The new metadata.
    event DeviceUpdated(address indexed device, string endpoint, string metadata);
    /// @notice An offering was set (price > 0) or removed (price = 0).
    /// @param device The device.
    /// @param modelId The model.
    /// @param token The payment token.
    /// @param price Price per inference in token units, 0 when removed.
    event OfferingSet(address indexed device, uint256 indexed modelId, address indexed token, uint256 price);
    /// @notice The device status changed.
    /// @param device The device.
    /// @param status The new status.
    /// @param unbondingEnds When the stake unbonds (Exiting/Removed), else 0.
    event DeviceStatusChanged(address indexed device, Status status, uint256 unbondingEnds);
    /// @notice The stake was withdrawn after unbonding.
    /// @param device The device.
    /// @param owner Who received it.
    /// @param amount Amount withdrawn.
    event StakeWithdrawn(address indexed device, address indexed owner, uint256 amount);
    /// @notice The dispute contract that can hold stakes was wired.
    /// @param guard The guard (FlightRecorder).
    event StakeGuardSet(address indexed guard);
    /// @notice Stake was slashed.
    /// @param device The device.
    /// @param beneficiary Who received the slashed amount.
    /// @param amount Amount slashed.
    /// @param removed Whether the device was removed from the market.
    event DeviceSlashed(address indexed device, address indexed beneficiary, uint256 amount, bool removed);

    /// @notice Registers `device` for the caller with an initial stake (pulled from the caller).
    /// @param bindingSignature EIP-712 DeviceBinding(device, owner = caller, deadline) signed by the device key.
    function register(
        address device,
        string calldata endpoint,
        string calldata metadata,
        uint96 stake,
        uint256 deadline,
        bytes calldata bindingSignature
    ) external;
    /// @notice Adds stake (pulled from the caller) to an Active or Paused device.
    function addStake(address device, uint96 amount) external;
    /// @notice Updates endpoint and metadata.
    function updateDevice(address device, string calldata endpoint, string calldata metadata) external;
    /// @notice Sets (price > 0) or removes (price = 0) the offering of `modelId` paid in `token`.
    function setOffering(address device, uint256 modelId, address token, uint96 price) external;
    /// @notice Stops new channels from opening to the device.
    function pause(address device) external;
    /// @notice Re-opens a paused device.
    function unpause(address device) external;
    /// @notice Leaves the market; the stake unbonds for `unbondingDelay`.
    function startExit(address device) external;
    /// @notice Withdraws the stake to the device owner once it unbonded: `unbondingDelay` after `startExit` (or the
    /// slash that removed it) and after the device's last anchor, with no dispute open against it (`stakeGuard`).
    function withdrawStake(address device) external;
    /// @notice Wires the dispute contract consulted by `withdrawStake` (admin, once).
    function setStakeGuard(IStakeGuard guard) external;
    /// @notice The dispute contract consulted by `withdrawStake`, zero until wired.
    function stakeGuard() external view returns (IStakeGuard);
    /// @notice Slashes `amount` of stake to `beneficiary`; `remove` takes the device off the market.
    function slash(address device, uint96 amount, address beneficiary, bool remove) external;

    /// @notice The device record.
    function getDevice(address device) external view returns (Device memory);
    /// @notice Price of an offering, 0 when none.
    function offeringPrice(address device, uint256 modelId, address token) external view returns (uint96);
    /// @notice Owner and price for opening a channel; reverts unless the device is Active and offers the model.
    function channelTerms(address device, uint256 modelId, address token) external view returns (address owner, uint96 price);
    /// @notice EIP-712 digest a device key signs to bind itself to `owner`.
    function bindingDigest(address device, address owner, uint256 deadline) external view returns (bytes32);
    /// @notice Token the stake is held in.
    function stakeToken() external view returns (address);
    /// @notice Minimum stake to register.
    function minStake() external view returns (uint96);
    /// @notice Seconds between exit and stake withdrawal.
    function unbondingDelay() external view returns (uint40);
}
