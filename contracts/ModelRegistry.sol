// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Versioned registry of ONNX models with content hashes, royalties and one-time licenses.
contract ModelRegistry is IModelRegistry {
    using SafeERC20 for IERC20;

    /// @inheritdoc IModelRegistry
    uint16 public constant MAX_ROYALTY_BPS = 5_000;

    /// @inheritdoc IModelRegistry
    uint64 public constant TOLERANCE_SCALE = 1e9;

    uint256 private _count;
    mapping(uint256 modelId => Model) private _models;
    mapping(uint256 modelId => uint256) private _successor;
    mapping(uint256 modelId => mapping(address licensee => bool)) private _licensed;
    mapping(uint256 modelId => Tolerance) private _tolerance;

    /// @inheritdoc IModelRegistry
    function publish(ModelParams calldata params) external returns (uint256 modelId) {
        return _publish(params, 0, 1);
    }

    /// @inheritdoc IModelRegistry
    function publishVersion(uint256 predecessor, ModelParams calldata params) external returns (uint256 modelId) {
        Model storage prev = _ownedModel(predecessor);
        uint256 successor = _successor[predecessor];
        if (successor != 0) revert VersionAlreadySuperseded(predecessor, successor);
        modelId = _publish(params, uint64(predecessor), prev.version + 1);
        _successor[predecessor] = modelId;
    }

    /// @inheritdoc IModelRegistry
    function setTerms(uint256 modelId, uint16 royaltyBps, uint96 licenseFee) external {
        Model storage model = _ownedModel(modelId);
        _checkTerms(royaltyBps, model.licenseToken, licenseFee);
        model.royaltyBps = royaltyBps;
        model.licenseFee = licenseFee;
        emit ModelTermsUpdated(modelId, royaltyBps, licenseFee);
    }

    /// @inheritdoc IModelRegistry
    function setTolerance(uint256 modelId, Tolerance calldata tolerance) external {
        _ownedModel(modelId);
        // A bound of 0 under Absolute/Relative would be Exact spelled differently; a bound under Exact would be ignored.
        if ((tolerance.kind == ToleranceKind.Exact) != (tolerance.bound == 0)) revert InvalidTolerance(tolerance.kind, tolerance.bound);
        _tolerance[modelId] = tolerance;
        emit ToleranceSet(modelId, tolerance.kind, tolerance.bound);
    }

    /// @inheritdoc IModelRegistry
    function toleranceOf(uint256 modelId) external view returns (Tolerance memory) {
        _existing(modelId);
        return _tolerance[modelId];
    }

    /// @inheritdoc IModelRegistry
    function transferModelOwnership(uint256 modelId, address newOwner) external {
        Model storage model = _ownedModel(modelId);
        if (newOwner == address(0)) revert ZeroOwner();
        emit ModelOwnershipTransferred(modelId, model.owner, newOwner);
        model.owner = newOwner;
    }

    /// @inheritdoc IModelRegistry
    function deprecate(uint256 modelId) external {
        Model storage model = _ownedModel(modelId);
        if (model.deprecated) revert ModelIsDeprecated(modelId);
        model.deprecated = true;
        emit ModelDeprecated(modelId);
    }

    /// @inheritdoc IModelRegistry
    function takeLicense(uint256 modelId, address licensee, uint256 maxFee) external {
        Model storage model = _existing(modelId);
        if (model.deprecated) revert ModelIsDeprecated(modelId);
        if (_licensed[modelId][licensee]) revert AlreadyLicensed(modelId, licensee);
        uint256 fee = model.licenseFee;
        // The fee the caller saw: a `setTerms` mined first (front-running or not) cannot charge it more.
        if (fee > maxFee) revert LicenseFeeTooHigh(fee, maxFee);
        _licensed[modelId][licensee] = true;
        address token = model.licenseToken;
        emit LicenseTaken(modelId, licensee, msg.sender, token, fee);
        if (fee != 0) IERC20(token).safeTransferFrom(msg.sender, model.owner, fee);
    }

    /// @inheritdoc IModelRegistry
    function hasLicense(uint256 modelId, address licensee) external view returns (bool) {
        return _licensed[modelId][licensee];
    }

    /// @inheritdoc IModelRegistry
    function getModel(uint256 modelId) external view returns (Model memory) {
        return _existing(modelId);
    }

    /// @inheritdoc IModelRegistry
    function channelTerms(uint256 modelId) external view returns (address owner, uint16 royaltyBps) {
        Model storage model = _existing(modelId);
        if (model.deprecated) revert ModelIsDeprecated(modelId);
        return (model.owner, model.royaltyBps);
    }

    /// @inheritdoc IModelRegistry
    function successorOf(uint256 modelId) external view returns (uint256) {
        _existing(modelId);
        return _successor[modelId];
    }

    /// @inheritdoc IModelRegistry
    function modelCount() external view returns (uint256) {
        return _count;
    }

    function _publish(ModelParams calldata params, uint64 predecessor, uint32 version) private returns (uint256 modelId) {
        if (bytes(params.name).length == 0) revert EmptyName();
        if (params.contentHash == bytes32(0)) revert EmptyContentHash();
        _checkTerms(params.royaltyBps, params.licenseToken, params.licenseFee);
        modelId = ++_count;
        _models[modelId] = Model({
            owner: msg.sender,
            royaltyBps: params.royaltyBps,
            deprecated: false,
            version: version,
            predecessor: predecessor,
            licenseToken: params.licenseToken,
            licenseFee: params.licenseFee,
            contentHash: params.contentHash,
            name: params.name,
            uri: params.uri
        });
        emit ModelPublished(
            modelId,
            msg.sender,
            predecessor,
            version,
            params.contentHash,
            params.royaltyBps,
            params.licenseToken,
            params.licenseFee,
            params.name,
            params.uri
        );
    }

    function _checkTerms(uint16 royaltyBps, address licenseToken, uint96 licenseFee) private pure {
        if (royaltyBps > MAX_ROYALTY_BPS) revert RoyaltyTooHigh(royaltyBps, MAX_ROYALTY_BPS);
        if (licenseFee != 0 && licenseToken == address(0)) revert LicenseTokenMissing();
    }

    function _existing(uint256 modelId) private view returns (Model storage model) {
        model = _models[modelId];
        if (model.owner == address(0)) revert ModelNotFound(modelId);
    }

    function _ownedModel(uint256 modelId) private view returns (Model storage model) {
        model = _existing(modelId);
        if (model.owner != msg.sender) revert NotModelOwner(modelId, msg.sender);
    }
}
