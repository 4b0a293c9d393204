// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IStakeGuard} from "./interfaces/IStakeGuard.sol";

/// @title DeviceRegistry
/// @notice Staked registry of edge devices and their per-model offerings.
/// @dev A stake stays slashable for as long as a dispute about the device can matter. Of the two designs (freeze the
/// stake while disputes are open, or bound every challenge deadline by the unbonding end) this registry freezes:
/// `withdrawStake` asks the dispute contract (`stakeGuard`, FlightRecorder) and refuses while any dispute is open,
/// and until `unbondingDelay` after the device's last anchor, so every anchored receipt can be challenged against a
/// present stake for at least the unbonding delay and every challenge opened in time is enforced against it. Tying
/// deadlines to the unbonding end instead would shorten answer windows near the end, letting an exiting device
/// outwait a challenge by a few blocks, and would not cover anchors made after `startExit`.
/// Roles: `SLASHER_ROLE` is granted to the dispute contract at deployment; the deployment then renounces the admin
/// role (ignition/modules/core.ts), so nobody can grant itself the right to slash (README, "Tokens and trust model").
contract DeviceRegistry is IDeviceRegistry, AccessControl, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice Role allowed to slash stakes (granted to the dispute contract).
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");

    /// @notice EIP-712 type of the device key's consent to an owner.
    bytes32 public constant DEVICE_BINDING_TYPEHASH =
        keccak256("DeviceBinding(address device,address owner,uint256 deadline)");

    IModelRegistry public immutable modelRegistry;
    address public immutable stakeToken;
    uint96 public immutable minStake;
    uint40 public immutable unbondingDelay;

    /// @inheritdoc IDeviceRegistry
    IStakeGuard public stakeGuard;

    mapping(address device => Device) private _devices;
    mapping(address device => mapping(uint256 modelId => mapping(address token => uint96 price))) private _prices;

    constructor(address stakeToken_, uint96 minStake_, uint40 unbondingDelay_, IModelRegistry modelRegistry_, address admin)
        EIP712("Edgepay DeviceRegistry", "1")
    {
        if (stakeToken_ == address(0) || address(modelRegistry_) == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        stakeToken = stakeToken_;
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        modelRegistry = modelRegistry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IDeviceRegistry
    function register(
        address device,
        string calldata endpoint,
        string calldata metadata,
        uint96 stake,
        uint256 deadline,
        bytes calldata bindingSignature
    ) external {
        if (device == address(0)) revert ZeroAddress();
        if (bytes(endpoint).length == 0) revert EmptyEndpoint();
        if (_devices[device].status != Status.None) revert DeviceAlreadyRegistered(device);
        if (stake < minStake) revert StakeTooLow(stake, minStake);
        if (block.timestamp > deadline) revert BindingExpired(deadline, block.timestamp);
        (address recovered,,) = ECDSA.tryRecover(bindingDigest(device, msg.sender, deadline), bindingSignature);
        if (recovered != device) revert InvalidBinding(device, recovered);

        _devices[device] = Device({
            owner: msg.sender,
            status: Status.Active,
            unbondingEnds: 0,
            stake: stake,
            endpoint: endpoint,
            metadata: metadata
        });
        emit DeviceRegistered(device, msg.sender, stake, endpoint, metadata);
        if (stake != 0) IERC20(stakeToken).safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @inheritdoc IDeviceRegistry
    function addStake(address device, uint96 amount) external {
        Device storage d = _owned(device);
        _requireStatus(device, d.status, Status.Active, Status.Paused);
        if (amount == 0) revert ZeroAmount();
        uint96 stake = d.stake + amount;
        d.stake = stake;
        emit StakeAdded(device, amount, stake);
        IERC20(stakeToken).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IDeviceRegistry
    function updateDevice(address device, string calldata endpoint, string calldata metadata) external {
        Device storage d = _owned(device);
        _requireStatus(device, d.status, Status.Active, Status.Paused);
        if (bytes(endpoint).length == 0) revert EmptyEndpoint();
        d.endpoint = endpoint;
        d.metadata = metadata;
        emit DeviceUpdated(device, endpoint, metadata);
    }

    /// @inheritdoc IDeviceRegistry
    function setOffering(address device, uint256 modelId, address token, uint96 price) external {
        Device storage d = _owned(device);
        _requireStatus(device, d.status, Status.Active, Status.Paused);
        if (token == address(0)) revert ZeroAddress();
        if (price != 0) {
            // Reverts for unknown or deprecated models.
            modelRegistry.channelTerms(modelId);
            if (!modelRegistry.hasLicense(modelId, msg.sender)) revert ModelNotLicensed(modelId, msg.sender);
        } else if (_prices[device][modelId][token] == 0) {
            revert OfferingNotFound(device, modelId, token);
        }
        _prices[device][modelId][token] = price;
        emit OfferingSet(device, modelId, token, price);
    }

    /// @inheritdoc IDeviceRegistry
    function pause(address device) external {
        Device storage d = _owned(device);
        _requireStatus(device, d.status, Status.Active, Status.Active);
        _setStatus(device, d, Status.Paused, 0);
    }

    /// @inheritdoc IDeviceRegistry
    function unpause(address device) external {
        Device storage d = _owned(device);
        _requireStatus(device, d.status, Status.Paused, Status.Paused);
        _setStatus(device, d, Status.Active, 0);
    }

    /// @inheritdoc IDeviceRegistry
    function startExit(address device) external {
        Device storage d = _owned(device);
        _requireStatus(device, d.status, Status.Active, Status.Paused);
        _setStatus(device, d, Status.Exiting, uint40(block.timestamp) + unbondingDelay);
    }

    /// @inheritdoc IDeviceRegistry
    function withdrawStake(address device) external {
        Device storage d = _owned(device);
        _requireStatus(device, d.status, Status.Exiting, Status.Removed);
        if (block.timestamp < d.unbondingEnds) revert StillUnbonding(device, d.unbondingEnds);
        IStakeGuard guard = stakeGuard;
        if (address(guard) != address(0)) {
            (uint256 openDisputes, uint256 lastAnchorAt) = guard.stakeLock(device);
            if (openDisputes != 0) revert DisputesOpen(device, openDisputes);
            if (lastAnchorAt != 0 && block.timestamp < lastAnchorAt + unbondingDelay) {
                revert StillUnbonding(device, lastAnchorAt + unbondingDelay);
            }
        }
        uint96 amount = d.stake;
        d.stake = 0;
        _setStatus(device, d, Status.Withdrawn, 0);
        emit StakeWithdrawn(device, msg.sender, amount);
        if (amount != 0) IERC20(stakeToken).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IDeviceRegistry
    function setStakeGuard(IStakeGuard guard) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(guard) == address(0)) revert ZeroAddress();
        if (address(stakeGuard) != address(0)) revert StakeGuardAlreadySet(address(stakeGuard));
        stakeGuard = guard;
        emit StakeGuardSet(address(guard));
    }

    /// @inheritdoc IDeviceRegistry
    function slash(address device, uint96 amount, address beneficiary, bool remove) external onlyRole(SLASHER_ROLE) {
        Device storage d = _existing(device);
        if (beneficiary == address(0)) revert ZeroAddress();
        if (amount > d.stake) revert SlashExceedsStake(amount, d.stake);
        d.stake -= amount;
        emit DeviceSlashed(device, beneficiary, amount, remove);
        if (remove && d.status != Status.Removed && d.status != Status.Withdrawn) {
            // The rest of the stake unbonds again from now, so a pending dispute can still reach it.
            _setStatus(device, d, Status.Removed, uint40(block.timestamp) + unbondingDelay);
        }
        if (amount != 0) IERC20(stakeToken).safeTransfer(beneficiary, amount);
    }

    /// @inheritdoc IDeviceRegistry
    function getDevice(address device) external view returns (Device memory) {
        return _existing(device);
    }

    /// @inheritdoc IDeviceRegistry
    function offeringPrice(address device, uint256 modelId, address token) external view returns (uint96) {
        return _prices[device][modelId][token];
    }

    /// @inheritdoc IDeviceRegistry
    function channelTerms(address device, uint256 modelId, address token) external view returns (address owner, uint96 price) {
        Device storage d = _devices[device];
        Status status = d.status;
        if (status == Status.None) revert DeviceNotFound(device);
        if (status != Status.Active) revert InvalidDeviceStatus(device, status);
        price = _prices[device][modelId][token];
        if (price == 0) revert OfferingNotFound(device, modelId, token);
        return (d.owner, price);
    }

    /// @inheritdoc IDeviceRegistry
    function bindingDigest(address device, address owner, uint256 deadline) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(DEVICE_BINDING_TYPEHASH, device, owner, deadline)));
    }

    function _existing(address device) private view returns (Device storage d) {
        d = _devices[device];
        if (d.status == Status.None) revert DeviceNotFound(device);
    }

    function _owned(address device) private view returns (Device storage d) {
        d = _existing(device);
        if (d.owner != msg.sender) revert NotDeviceOwner(device, msg.sender);
    }

    function _requireStatus(address device, Status status, Status a, Status b) private pure {
        if (status != a && status != b) revert InvalidDeviceStatus(device, status);
    }

    function _setStatus(address device, Device storage d, Status status, uint40 unbondingEnds) private {
        d.status = status;
        d.unbondingEnds = unbondingEnds;
        emit DeviceStatusChanged(device, status, unbondingEnds);
    }
}
