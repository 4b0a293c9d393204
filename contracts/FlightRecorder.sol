// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IFlightRecorder} from "./interfaces/IFlightRecorder.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {IStakeGuard} from "./interfaces/IStakeGuard.sol";
import {ReceiptHash} from "./libraries/ReceiptHash.sol";

/// @title FlightRecorder
/// @notice Anchors of devices' receipt Merkle roots and the disputes that slash a device's stake for equivocation
/// or omission. Must hold DeviceRegistry's SLASHER_ROLE and be its `stakeGuard`: the registry keeps a device's
/// stake while an omission challenge against it is open and until the unbonding delay after its last anchor
/// (`stakeLock`), so a device cannot exit with its stake while a dispute is pending or can still be opened.
/// @dev Storage per anchor is one slot, keccak256(root, toSeq) keyed by (device, fromSeq), plus the device's
/// anchored sequence; roots, ranges and chain heads live in the `Anchored` events.
contract FlightRecorder is IFlightRecorder, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;

    /// @notice The channels contract whose EIP-712 domain receipts are signed under and whose claims
    /// `claimAndAnchor` forwards.
    IPaymentChannels public immutable paymentChannels;
    /// @notice The registry holding the stakes this contract slashes.
    IDeviceRegistry public immutable deviceRegistry;
    /// @notice Token of stakes and challenge bonds (the registry's stake token).
    IERC20 public immutable stakeToken;
    /// @notice Receives the slashed stake that does not go to the reporter.
    address public immutable treasury;
    /// @notice Share of a device's stake taken by a proven dispute, in basis points of the stake.
    uint16 public immutable slashBps;
    /// @notice Share of the slashed amount paid to the reporter or challenger, in basis points.
    uint16 public immutable reporterBps;
    /// @notice Seconds a device has to answer an omission challenge.
    uint40 public immutable answerWindow;
    /// @notice Bond a challenger posts, in the stake token: refunded if the device is slashed, paid to the device
    /// owner if it proves inclusion (it paid the gas of answering a false accusation).
    uint96 public immutable challengeBond;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    mapping(address device => DeviceLog) private _logs;
    mapping(address device => mapping(uint64 fromSeq => bytes32 commitment)) private _anchors;
    mapping(bytes32 challengeId => Challenge) private _challenges;

    constructor(
        IPaymentChannels paymentChannels_,
        IDeviceRegistry deviceRegistry_,
        address treasury_,
        uint16 slashBps_,
        uint16 reporterBps_,
        uint40 answerWindow_,
        uint96 challengeBond_
    ) {
        if (address(paymentChannels_) == address(0) || address(deviceRegistry_) == address(0) || treasury_ == address(0)) {
            revert ZeroAddress();
        }
        if (slashBps_ == 0 || slashBps_ > BPS) revert InvalidBps(slashBps_);
        if (reporterBps_ > BPS) revert InvalidBps(reporterBps_);
        uint40 unbondingDelay = deviceRegistry_.unbondingDelay();
        if (answerWindow_ == 0 || answerWindow_ >= unbondingDelay) revert InvalidAnswerWindow(answerWindow_, unbondingDelay);
        paymentChannels = paymentChannels_;
        deviceRegistry = deviceRegistry_;
        stakeToken = IERC20(deviceRegistry_.stakeToken());
        treasury = treasury_;
        slashBps = slashBps_;
        reporterBps = reporterBps_;
        answerWindow = answerWindow_;
        challengeBond = challengeBond_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = ReceiptHash.domainSeparator(address(paymentChannels_), block.chainid);
    }

    // ---------------------------------------------------------------- anchors

    /// @inheritdoc IFlightRecorder
    function anchor(bytes32 root, uint64 fromSeq, uint64 toSeq, bytes32 head) external {
        _anchor(root, fromSeq, toSeq, head);
    }

    /// @inheritdoc IFlightRecorder
    function claimAndAnchor(IPaymentChannels.Claim[] calldata claims, bytes32 root, uint64 fromSeq, uint64 toSeq, bytes32 head)
        external
    {
        // Anchor first: the claims transfer tokens, and nothing may run after a token's code with stale state.
        _anchor(root, fromSeq, toSeq, head);
        // Forward the claims' ABI encoding as it arrived (offsets inside it are relative, so it is valid at any
        // position) instead of decoding and re-encoding every claim: ~1.5k gas less per claim. PaymentChannels
        // decodes and validates it as for any other caller.
        uint256 start;
        assembly ("memory-safe") {
            // The array's length word precedes its elements.
            start := sub(claims.offset, 0x20)
        }
        bytes memory call = bytes.concat(IPaymentChannels.claimMany.selector, bytes32(uint256(0x20)), msg.data[start:]);
        (bool ok, bytes memory returned) = address(paymentChannels).call(call);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(returned, 0x20), mload(returned))
            }
        }
    }

    function _anchor(bytes32 root, uint64 fromSeq, uint64 toSeq, bytes32 head) private {
        if (root == bytes32(0)) revert ZeroRoot();
        DeviceLog storage log = _logs[msg.sender];
        uint64 expectedFrom = log.anchoredSeq + 1;
        if (fromSeq != expectedFrom || toSeq < fromSeq) revert NonContiguousAnchor(msg.sender, fromSeq, toSeq, expectedFrom);
        log.anchoredSeq = toSeq;
        log.lastAnchorAt = uint40(block.timestamp);
        _anchors[msg.sender][fromSeq] = _commitment(root, toSeq);
        emit Anchored(msg.sender, fromSeq, toSeq, root, head);
    }

    // ---------------------------------------------------------------- equivocation

    /// @inheritdoc IFlightRecorder
    function reportEquivocation(
        address device,
        Receipt calldata a,
        bytes calldata signatureA,
        Receipt calldata b,
        bytes calldata signatureB
    ) external nonReentrant {
        bytes32 separator = _domainSeparator();
        bytes32 digestA = _verifiedDigest(device, a, signatureA, separator);
        bytes32 digestB = _verifiedDigest(device, b, signatureB, separator);
        if (a.modelId != b.modelId || a.modelHash != b.modelHash) {
            revert ModelMismatch(a.modelId, a.modelHash, b.modelId, b.modelHash);
        }
        if (a.inputHash != b.inputHash) revert InputMismatch(a.inputHash, b.inputHash);
        if (a.outputHash == b.outputHash) revert IdenticalOutputs(a.outputHash);
        DeviceLog storage log = _logs[device];
        if (log.convicted) revert AlreadyConvicted(device);
        log.convicted = true;
        (uint256 slashed, uint256 reward) = _slash(device, msg.sender, true);
        emit EquivocationProven(device, msg.sender, digestA, digestB, slashed, reward);
    }

    // ---------------------------------------------------------------- omission

    /// @inheritdoc IFlightRecorder
    function challengeOmission(
        address device,
        Receipt calldata receipt,
        bytes calldata signature,
        bytes32 root,
        uint64 fromSeq,
        uint64 toSeq
    ) external nonReentrant {
        bytes32 digest = _verifiedDigest(device, receipt, signature, _domainSeparator());
        uint64 sequence = receipt.sequence;
        uint64 anchoredSeq = _logs[device].anchoredSeq;
        if (sequence == 0 || sequence > anchoredSeq) revert SequenceNotAnchored(device, sequence, anchoredSeq);
        if (_anchors[device][fromSeq] != _commitment(root, toSeq)) revert AnchorNotFound(device, root, fromSeq, toSeq);
        if (sequence < fromSeq || sequence > toSeq) revert SequenceOutOfRange(sequence, fromSeq, toSeq);
        bytes32 id = _challengeId(device, digest);
        Challenge storage c = _challenges[id];
        if (c.status != ChallengeStatus.None) revert ChallengeExists(device, digest, c.status);
        // Reverts with DeviceNotFound for an unregistered key.
        if (deviceRegistry.getDevice(device).stake == 0) revert NothingAtStake(device);

        uint40 deadline = uint40(block.timestamp) + answerWindow;
        // Holds the stake in DeviceRegistry until the challenge is answered or enforced.
        ++_logs[device].openChallenges;
        c.challenger = msg.sender;
        c.deadline = deadline;
        c.status = ChallengeStatus.Open;
        c.root = root;
        emit OmissionChallenged(device, digest, msg.sender, sequence, root, deadline, challengeBond);
        if (challengeBond != 0) stakeToken.safeTransferFrom(msg.sender, address(this), challengeBond);
    }

    /// @inheritdoc IFlightRecorder
    function answerOmission(address device, bytes32 digest, bytes32[] calldata proof) external nonReentrant {
        Challenge storage c = _open(device, digest);
        if (block.timestamp > c.deadline) revert AnswerWindowOver(device, digest, c.deadline);
        bytes32 root = c.root;
        bytes32 computed = MerkleProof.processProofCalldata(proof, ReceiptHash.leaf(digest));
        if (computed != root) revert InvalidInclusionProof(device, digest, root, computed);
        c.status = ChallengeStatus.Answered;
        --_logs[device].openChallenges;
        address owner = deviceRegistry.getDevice(device).owner;
        emit OmissionAnswered(device, digest, msg.sender, owner);
        if (challengeBond != 0) stakeToken.safeTransfer(owner, challengeBond);
    }

    /// @inheritdoc IFlightRecorder
    function enforceOmission(address device, bytes32 digest) external nonReentrant {
        Challenge storage c = _open(device, digest);
        if (block.timestamp <= c.deadline) revert AnswerWindowOpen(device, digest, c.deadline);
        c.status = ChallengeStatus.Enforced;
        --_logs[device].openChallenges;
        address challenger = c.challenger;
        // The stake may be gone already (an earlier dispute took it): the bond is refunded all the same.
        (uint256 slashed, uint256 reward) = _slash(device, challenger, false);
        emit OmissionEnforced(device, digest, challenger, slashed, reward);
        if (challengeBond != 0) stakeToken.safeTransfer(challenger, challengeBond);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IFlightRecorder
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32) {
        return ReceiptHash.digest(receipt, _domainSeparator());
    }

    /// @inheritdoc IFlightRecorder
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @inheritdoc IFlightRecorder
    function deviceLog(address device) external view returns (DeviceLog memory) {
        return _logs[device];
    }

    /// @inheritdoc IStakeGuard
    function stakeLock(address device) external view returns (uint256 openDisputes, uint256 lastAnchorAt) {
        DeviceLog storage log = _logs[device];
        return (log.openChallenges, log.lastAnchorAt);
    }

    /// @inheritdoc IFlightRecorder
    function isAnchored(address device, bytes32 root, uint64 fromSeq, uint64 toSeq) external view returns (bool) {
        return root != bytes32(0) && _anchors[device][fromSeq] == _commitment(root, toSeq);
    }

    /// @inheritdoc IFlightRecorder
    function getChallenge(address device, bytes32 digest) external view returns (Challenge memory) {
        return _challenges[_challengeId(device, digest)];
    }

    // ---------------------------------------------------------------- internals

    function _verifiedDigest(address device, Receipt calldata receipt, bytes calldata signature, bytes32 separator)
        private
        pure
        returns (bytes32 digest)
    {
        digest = ReceiptHash.digest(receipt, separator);
        (address recovered,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (recovered != device || recovered == address(0)) revert InvalidReceiptSignature(device, digest, recovered);
    }

    function _open(address device, bytes32 digest) private view returns (Challenge storage c) {
        c = _challenges[_challengeId(device, digest)];
        if (c.status != ChallengeStatus.Open) revert ChallengeNotOpen(device, digest, c.status);
    }

    /// @dev Takes `slashBps` of the stake: `reporterBps` of it to `reporter`, the rest to the treasury; removes the
    /// device from the market.
    function _slash(address device, address reporter, bool requireStake) private returns (uint256 slashed, uint256 reward) {
        uint256 stake = deviceRegistry.getDevice(device).stake;
        if (stake == 0 && requireStake) revert NothingAtStake(device);
        slashed = stake * slashBps / BPS;
        reward = slashed * reporterBps / BPS;
        if (reward != 0) deviceRegistry.slash(device, uint96(reward), reporter, false);
        deviceRegistry.slash(device, uint96(slashed - reward), treasury, true);
    }

    function _domainSeparator() private view returns (bytes32) {
        // Recomputed after a chain fork so receipts signed for the other chain stop verifying here.
        if (block.chainid == _cachedChainId) return _cachedDomainSeparator;
        return ReceiptHash.domainSeparator(address(paymentChannels), block.chainid);
    }

    function _commitment(bytes32 root, uint64 toSeq) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, root)
            mstore(0x20, toSeq)
            h := keccak256(0x00, 0x40)
        }
    }

    function _challengeId(address device, bytes32 digest) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, device)
            mstore(0x20, digest)
            h := keccak256(0x00, 0x40)
        }
    }
}
