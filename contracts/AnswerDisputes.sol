// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IAnswerDisputes} from "./interfaces/IAnswerDisputes.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {IFlightRecorder} from "./interfaces/IFlightRecorder.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {IStakeGuard} from "./interfaces/IStakeGuard.sol";
import {ReceiptHash} from "./libraries/ReceiptHash.sol";
import {TensorTolerance} from "./libraries/TensorTolerance.sol";

/// @title AnswerDisputes
/// @notice Disputes about wrong answers, decided by a committee of staked verifiers (see IAnswerDisputes).
/// @dev DeviceRegistry consults one stake guard. This contract is that guard and chains the FlightRecorder's lock
/// (`innerGuard`): a device's stake stays while a dispute of either kind is open.
/// Randomness: the committee is drawn from the hash of the block after the open (the reporter cannot know it when
/// it sends the open, and one dispute per receipt leaves nothing to grind). The proposer of that block can withhold
/// it to re-roll, at the cost of its block reward; on a local chain the hash is predictable. Replacement draws use the
/// previous block's hash and can be timed by whoever calls replaceAbsent: they fill seats of members who did not
/// show up, and the majority of a committee is still the original draw.
contract AnswerDisputes is IAnswerDisputes, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 private constant BPS = 10_000;
    /// @notice Largest committee.
    uint256 public constant MAX_COMMITTEE = 9;
    /// @notice Largest verifier pool per model (the draw reads the whole pool).
    uint256 public constant MAX_POOL = 64;
    /// @notice Replacement rounds per dispute.
    uint256 public constant MAX_ROUNDS = 2;
    /// @notice Blocks after a commitment in which the dispute may be opened (from the next block on).
    uint256 public constant OPEN_WINDOW_BLOCKS = 256;
    /// @notice Largest input encoding (calldata: ~1 M gas at the limit).
    uint256 public constant MAX_INPUT_BYTES = 65_536;
    /// @notice Largest output encoding, each of the device's and the claimed (decoded on-chain: 2,048 float32).
    uint256 public constant MAX_OUTPUT_BYTES = 8_192;

    IPaymentChannels public immutable paymentChannels;
    IDeviceRegistry public immutable deviceRegistry;
    IModelRegistry public immutable modelRegistry;
    /// @notice The other dispute contract whose lock this guard passes on (FlightRecorder), or zero.
    IStakeGuard public immutable innerGuard;
    IERC20 public immutable stakeToken;
    address public immutable treasury;
    uint256 public immutable committeeSize;
    uint256 public immutable slashBps;
    uint256 public immutable reporterBps;
    uint256 public immutable verifierBps;
    uint256 public immutable penaltyBps;
    uint40 public immutable commitWindow;
    uint40 public immutable revealWindow;
    uint96 public immutable reporterBond;
    uint96 public immutable verifierBond;
    bytes32 private immutable _domainSeparator;

    mapping(uint256 modelId => address[]) private _pools;
    mapping(uint256 modelId => mapping(address device => Verifier)) private _verifiers;
    mapping(bytes32 commitment => uint256 blockNumber) private _commitments;
    mapping(bytes32 id => Dispute) private _disputes;
    mapping(bytes32 id => Seat[]) private _seats;
    /// @dev Seat index + 1 of each verifier drawn for a dispute.
    mapping(bytes32 id => mapping(address verifier => uint256)) private _seatOf;
    mapping(address device => uint256) private _openDisputes;

    constructor(
        IPaymentChannels paymentChannels_,
        IDeviceRegistry deviceRegistry_,
        IModelRegistry modelRegistry_,
        IStakeGuard innerGuard_,
        Config memory config
    ) {
        if (
            address(paymentChannels_) == address(0) || address(deviceRegistry_) == address(0)
                || address(modelRegistry_) == address(0) || config.treasury == address(0)
        ) revert ZeroAddress();
        if (config.committeeSize == 0 || config.committeeSize > MAX_COMMITTEE || config.committeeSize % 2 == 0) {
            revert InvalidCommitteeSize(config.committeeSize);
        }
        if (config.slashBps == 0 || config.slashBps > BPS) revert InvalidBps(config.slashBps);
        if (uint256(config.reporterBps) + config.verifierBps > BPS) revert InvalidBps(uint256(config.reporterBps) + config.verifierBps);
        if (config.penaltyBps > BPS) revert InvalidBps(config.penaltyBps);
        if (config.commitWindow == 0 || config.revealWindow == 0) revert ZeroWindow();
        paymentChannels = paymentChannels_;
        deviceRegistry = deviceRegistry_;
        modelRegistry = modelRegistry_;
        innerGuard = innerGuard_;
        stakeToken = IERC20(deviceRegistry_.stakeToken());
        treasury = config.treasury;
        committeeSize = config.committeeSize;
        slashBps = config.slashBps;
        reporterBps = config.reporterBps;
        verifierBps = config.verifierBps;
        penaltyBps = config.penaltyBps;
        commitWindow = config.commitWindow;
        revealWindow = config.revealWindow;
        reporterBond = config.reporterBond;
        verifierBond = config.verifierBond;
        _domainSeparator = ReceiptHash.domainSeparator(address(paymentChannels_), block.chainid);
    }

    // ---------------------------------------------------------------- verifier pool

    /// @inheritdoc IAnswerDisputes
    function joinPool(uint256 modelId, address device) external nonReentrant {
        (address owner, IDeviceRegistry.Status status,) = _device(device);
        if (owner != msg.sender) revert NotDeviceOwner(device, msg.sender);
        if (status != IDeviceRegistry.Status.Active) revert DeviceNotActive(device);
        if (!modelRegistry.hasLicense(modelId, msg.sender)) revert ModelNotLicensed(modelId, msg.sender);
        Verifier storage v = _verifiers[modelId][device];
        if (v.index != 0) revert AlreadyVerifier(modelId, device);
        address[] storage pool = _pools[modelId];
        if (pool.length >= MAX_POOL) revert PoolFull(modelId, pool.length);
        pool.push(device);
        // A verifier that left with seats 0 and penalties taken starts over with a full bond.
        _verifiers[modelId][device] = Verifier({owner: msg.sender, bond: verifierBond, seats: 0, index: uint32(pool.length)});
        emit VerifierJoined(modelId, device, msg.sender, verifierBond);
        if (verifierBond != 0) stakeToken.safeTransferFrom(msg.sender, address(this), verifierBond);
    }

    /// @inheritdoc IAnswerDisputes
    function leavePool(uint256 modelId, address device) external nonReentrant {
        Verifier storage v = _verifiers[modelId][device];
        if (v.index == 0) revert NotVerifier(modelId, device);
        if (v.owner != msg.sender) revert NotDeviceOwner(device, msg.sender);
        if (v.seats != 0) revert VerifierBusy(modelId, device, v.seats);
        address[] storage pool = _pools[modelId];
        uint256 i = v.index - 1;
        address last = pool[pool.length - 1];
        pool[i] = last;
        _verifiers[modelId][last].index = uint32(i + 1);
        pool.pop();
        uint256 refund = v.bond;
        delete _verifiers[modelId][device];
        emit VerifierLeft(modelId, device, msg.sender, refund);
        if (refund != 0) stakeToken.safeTransfer(msg.sender, refund);
    }

    // ---------------------------------------------------------------- opening

    /// @inheritdoc IAnswerDisputes
    function commitEvidence(bytes32 commitment) external {
        // An expired commitment may be renewed; a live one may not be moved (the hash binds the reporter, so whoever
        // sends it, only the reporter can open with it).
        uint256 committedAt = _commitments[commitment];
        if (committedAt != 0 && block.number <= committedAt + OPEN_WINDOW_BLOCKS) revert CommitmentExists(commitment);
        _commitments[commitment] = block.number;
        emit EvidenceCommitted(msg.sender, commitment);
    }

    /// @inheritdoc IAnswerDisputes
    function openDispute(address device, Evidence calldata evidence, bytes32 salt) external nonReentrant returns (bytes32 id) {
        IFlightRecorder.Receipt calldata r = evidence.receipt;
        bytes32 digest = ReceiptHash.digest(r, _domainSeparator);
        _consumeCommitment(keccak256(abi.encode(msg.sender, _evidenceHash(digest, evidence.claimedOutputs), salt)));
        {
            (address recovered,,) = ECDSA.tryRecoverCalldata(digest, evidence.signature);
            if (recovered != device || recovered == address(0)) revert InvalidReceiptSignature(device, digest, recovered);
        }
        _checkChannel(device, r, evidence.terms);
        _checkTensors(r, evidence);
        id = _disputeId(device, digest);
        Dispute storage dispute = _disputes[id];
        if (dispute.phase != Phase.None) revert DisputeExists(id);
        (address owner,, uint256 stake) = _device(device);
        if (stake == 0) revert NothingAtStake(device);
        uint256 poolSize = _pools[r.modelId].length;
        if (poolSize < committeeSize) revert PoolTooSmall(r.modelId, poolSize, committeeSize);

        dispute.device = device;
        dispute.phase = Phase.Drawing;
        dispute.reporter = msg.sender;
        dispute.bond = reporterBond;
        dispute.modelId = uint64(r.modelId);
        dispute.seedBlock = uint64(block.number + 1);
        dispute.deviceOwner = owner;
        ++_openDisputes[device];
        emit DisputeOpened(
            id, device, msg.sender, r.modelId, digest, keccak256(evidence.claimedOutputs), reporterBond, block.number + 1
        );
        if (reporterBond != 0) stakeToken.safeTransferFrom(msg.sender, address(this), reporterBond);
    }

    function _consumeCommitment(bytes32 commitment) private {
        uint256 committedAt = _commitments[commitment];
        if (committedAt == 0) revert CommitmentNotFound(commitment);
        if (block.number <= committedAt) revert CommitmentTooFresh(committedAt);
        if (block.number > committedAt + OPEN_WINDOW_BLOCKS) {
            revert CommitmentExpired(committedAt, committedAt + OPEN_WINDOW_BLOCKS);
        }
        delete _commitments[commitment];
    }

    /// @dev What the chain can tell about "the device offered this model": the receipt's channel exists, is the
    /// device's, and is for the receipt's model (PaymentChannels.open required the device's offering then), and
    /// the receipt's model hash is the registry's file of that model.
    function _checkChannel(address device, IFlightRecorder.Receipt calldata r, IPaymentChannels.ChannelTerms calldata terms)
        private
        view
    {
        bytes32 computed = keccak256(abi.encode(terms));
        if (computed != r.channelId) revert ChannelMismatch(r.channelId, computed);
        if (paymentChannels.getChannel(computed).deposit == 0) revert ChannelNotFound(computed);
        if (terms.device != device) revert DeviceNotInChannel(terms.device, device);
        bytes32 contentHash = modelRegistry.getModel(r.modelId).contentHash;
        if (terms.modelId != r.modelId || contentHash != r.modelHash || r.modelId > type(uint64).max) {
            revert ModelNotOffered(r.modelId, r.modelHash, terms.modelId, contentHash);
        }
    }

    function _checkTensors(IFlightRecorder.Receipt calldata r, Evidence calldata evidence) private view {
        if (evidence.inputs.length > MAX_INPUT_BYTES) revert EvidenceTooLarge(evidence.inputs.length, MAX_INPUT_BYTES);
        if (evidence.outputs.length > MAX_OUTPUT_BYTES) revert EvidenceTooLarge(evidence.outputs.length, MAX_OUTPUT_BYTES);
        if (evidence.claimedOutputs.length > MAX_OUTPUT_BYTES) {
            revert EvidenceTooLarge(evidence.claimedOutputs.length, MAX_OUTPUT_BYTES);
        }
        bytes32 inputHash = sha256(evidence.inputs);
        if (inputHash != r.inputHash) revert InputHashMismatch(r.inputHash, inputHash);
        bytes32 outputHash = sha256(evidence.outputs);
        if (outputHash != r.outputHash) revert OutputHashMismatch(r.outputHash, outputHash);
        IModelRegistry.Tolerance memory tol = modelRegistry.toleranceOf(r.modelId);
        if (TensorTolerance.withinTolerance(evidence.outputs, evidence.claimedOutputs, tol)) revert WithinTolerance(r.modelId);
    }

    // ---------------------------------------------------------------- committee

    /// @inheritdoc IAnswerDisputes
    function drawCommittee(bytes32 id) external nonReentrant {
        Dispute storage dispute = _phase(id, Phase.Drawing);
        uint256 seedBlock = dispute.seedBlock;
        if (block.number <= seedBlock) revert SeedNotReady(seedBlock);
        bytes32 hash = blockhash(seedBlock);
        if (hash == bytes32(0)) {
            // Over 256 blocks old: wait for the next block instead of using a hash the caller could pick.
            dispute.seedBlock = uint64(block.number + 1);
            emit SeedRenewed(id, block.number + 1);
            return;
        }
        dispute.phase = Phase.Voting;
        _setWindows(dispute);
        _draw(id, dispute, committeeSize, keccak256(abi.encode(hash, id)));
    }

    /// @inheritdoc IAnswerDisputes
    function replaceAbsent(bytes32 id) external nonReentrant {
        Dispute storage dispute = _phase(id, Phase.Voting);
        if (block.timestamp <= dispute.commitDeadline) revert CommitWindowOpen(id, dispute.commitDeadline);
        uint256 absent = dispute.active - dispute.committed;
        if (absent == 0 || dispute.rounds >= MAX_ROUNDS) revert NothingToReplace(id);
        ++dispute.rounds;
        Seat[] storage seats = _seats[id];
        uint256 n = seats.length;
        for (uint256 i; i < n; ++i) {
            if (seats[i].state == SeatState.Seated) {
                seats[i].state = SeatState.Replaced;
                emit MemberReplaced(id, seats[i].verifier, i);
            }
        }
        dispute.active -= uint8(absent);
        _setWindows(dispute);
        _draw(id, dispute, absent, keccak256(abi.encode(blockhash(block.number - 1), id, dispute.rounds)));
    }

    function _setWindows(Dispute storage dispute) private {
        uint40 commitDeadline = uint40(block.timestamp) + commitWindow;
        dispute.commitDeadline = commitDeadline;
        dispute.revealDeadline = commitDeadline + revealWindow;
    }

    /// @dev Seats up to `count` eligible verifiers: a partial Fisher-Yates shuffle of the pool, so every eligible
    /// verifier is equally likely; stops early when `count` are seated or the pool is exhausted.
    function _draw(bytes32 id, Dispute storage dispute, uint256 count, bytes32 seed) private {
        uint256 modelId = dispute.modelId;
        address[] memory pool = _pools[modelId];
        uint256 n = pool.length;
        Seat[] storage seats = _seats[id];
        uint256 seated;
        for (uint256 i; i < n && seated < count; ++i) {
            seed = keccak256(abi.encode(seed, i));
            uint256 j = i + uint256(seed) % (n - i);
            address candidate = pool[j];
            pool[j] = pool[i];
            if (!_eligible(id, dispute, modelId, candidate)) continue;
            seats.push(Seat({verifier: candidate, state: SeatState.Seated, deviceRight: false, commitment: bytes32(0)}));
            _seatOf[id][candidate] = seats.length;
            ++_verifiers[modelId][candidate].seats;
            ++seated;
            emit MemberSeated(id, candidate, seats.length - 1, dispute.commitDeadline, dispute.revealDeadline);
        }
        dispute.seats += uint8(seated);
        dispute.active += uint8(seated);
    }

    /// @dev Not the accused, not a device of the accused's owner, not the reporter or its device, not seated
    /// before in this dispute, bond able to pay a penalty, and still Active in the registry.
    function _eligible(bytes32 id, Dispute storage dispute, uint256 modelId, address candidate) private view returns (bool) {
        if (candidate == dispute.device || candidate == dispute.reporter || _seatOf[id][candidate] != 0) return false;
        Verifier storage v = _verifiers[modelId][candidate];
        if (v.owner == dispute.deviceOwner || v.owner == dispute.reporter || v.bond < verifierBond) return false;
        (, IDeviceRegistry.Status status,) = _device(candidate);
        return status == IDeviceRegistry.Status.Active;
    }

    // ---------------------------------------------------------------- votes

    /// @inheritdoc IAnswerDisputes
    function commitVote(bytes32 id, bytes32 commitment) external {
        Dispute storage dispute = _phase(id, Phase.Voting);
        if (block.timestamp > dispute.commitDeadline) revert CommitWindowOver(id, dispute.commitDeadline);
        Seat storage seat = _seat(id, SeatState.Seated);
        seat.state = SeatState.Committed;
        seat.commitment = commitment;
        ++dispute.committed;
        emit VoteCommitted(id, msg.sender);
    }

    /// @inheritdoc IAnswerDisputes
    function revealVote(bytes32 id, bool deviceRight, bytes32 salt) external {
        Dispute storage dispute = _phase(id, Phase.Voting);
        if (block.timestamp <= dispute.commitDeadline) revert CommitWindowOpen(id, dispute.commitDeadline);
        if (block.timestamp > dispute.revealDeadline) revert RevealWindowOver(id, dispute.revealDeadline);
        _requireNoPendingReplacement(id, dispute);
        Seat storage seat = _seat(id, SeatState.Committed);
        if (keccak256(abi.encode(id, msg.sender, deviceRight, salt)) != seat.commitment) revert InvalidReveal(id, msg.sender);
        seat.state = SeatState.Revealed;
        seat.deviceRight = deviceRight;
        if (deviceRight) ++dispute.votesRight;
        else ++dispute.votesWrong;
        emit VoteRevealed(id, msg.sender, deviceRight);
    }

    function _requireNoPendingReplacement(bytes32 id, Dispute storage dispute) private view {
        // Revealing before the absent are replaced would show their replacements how the others voted.
        uint256 absent = dispute.active - dispute.committed;
        if (absent != 0 && dispute.rounds < MAX_ROUNDS) revert ReplacementPending(id, absent);
    }

    // ---------------------------------------------------------------- resolution

    /// @dev Money of one resolution, in memory to keep the stack small.
    struct Payout {
        Outcome outcome;
        bool majorityRight;
        uint256 pot;
        uint256 winners;
        uint256 slashed;
        uint256 reporterPaid;
        uint256 treasuryPaid;
        uint256 verifiersPaid;
    }

    /// @inheritdoc IAnswerDisputes
    function resolve(bytes32 id) external nonReentrant {
        Dispute storage dispute = _phase(id, Phase.Voting);
        if (block.timestamp <= dispute.revealDeadline) revert RevealWindowOpen(id, dispute.revealDeadline);
        _requireNoPendingReplacement(id, dispute);
        Payout memory p;
        uint256 right = dispute.votesRight;
        uint256 wrong = dispute.votesWrong;
        if (right + wrong < committeeSize / 2 + 1 || right == wrong) p.outcome = Outcome.NoDecision;
        else if (wrong > right) p.outcome = Outcome.DeviceLost;
        else p.outcome = Outcome.ReporterLost;
        p.majorityRight = right > wrong;
        dispute.phase = Phase.Resolved;
        dispute.outcome = p.outcome;
        --_openDisputes[dispute.device];

        _settleSeats(id, dispute, p);
        uint256 bond = dispute.bond;
        if (p.outcome == Outcome.DeviceLost) {
            (,, uint256 stake) = _device(dispute.device);
            p.slashed = stake * slashBps / BPS;
            uint256 reward = p.slashed * reporterBps / BPS;
            uint256 toVerifiers = p.slashed * verifierBps / BPS;
            p.pot += toVerifiers;
            p.reporterPaid = reward + bond;
            p.treasuryPaid = p.slashed - reward - toVerifiers;
            if (reward != 0) deviceRegistry.slash(dispute.device, uint96(reward), dispute.reporter, false);
            if (toVerifiers != 0) deviceRegistry.slash(dispute.device, uint96(toVerifiers), address(this), false);
            deviceRegistry.slash(dispute.device, uint96(p.treasuryPaid), treasury, true);
            if (bond != 0) stakeToken.safeTransfer(dispute.reporter, bond);
        } else if (p.outcome == Outcome.ReporterLost) {
            uint256 toVerifiers = bond * verifierBps / BPS;
            p.pot += toVerifiers;
            if (bond != toVerifiers) stakeToken.safeTransfer(dispute.deviceOwner, bond - toVerifiers);
        } else {
            p.reporterPaid = bond;
            if (bond != 0) stakeToken.safeTransfer(dispute.reporter, bond);
        }
        _payWinners(id, dispute, p);
        emit DisputeResolved(id, p.outcome, right, wrong, p.slashed, p.reporterPaid, p.verifiersPaid, p.treasuryPaid);
    }

    /// @dev Frees every seat and takes the penalty from each member that did not reveal or voted against the
    /// majority; counts the majority members.
    function _settleSeats(bytes32 id, Dispute storage dispute, Payout memory p) private {
        Seat[] storage seats = _seats[id];
        uint256 modelId = dispute.modelId;
        uint256 penalty = uint256(verifierBond) * penaltyBps / BPS;
        bool decided = p.outcome != Outcome.NoDecision;
        uint256 n = seats.length;
        for (uint256 i; i < n; ++i) {
            Seat storage seat = seats[i];
            Verifier storage v = _verifiers[modelId][seat.verifier];
            --v.seats;
            bool revealed = seat.state == SeatState.Revealed;
            if (revealed && (!decided || seat.deviceRight == p.majorityRight)) {
                if (decided) ++p.winners;
                continue;
            }
            uint256 taken = penalty < v.bond ? penalty : v.bond;
            if (taken == 0) continue;
            v.bond -= uint96(taken);
            p.pot += taken;
            emit VerifierPenalised(id, seat.verifier, taken);
        }
    }

    /// @dev Splits the pot equally among the majority members' owners; dust, or all of it without a majority,
    /// goes to the treasury.
    function _payWinners(bytes32 id, Dispute storage dispute, Payout memory p) private {
        uint256 rest = p.pot;
        if (p.winners != 0 && rest != 0) {
            uint256 share = rest / p.winners;
            Seat[] storage seats = _seats[id];
            uint256 modelId = dispute.modelId;
            uint256 n = seats.length;
            for (uint256 i; i < n && share != 0; ++i) {
                Seat storage seat = seats[i];
                if (seat.state != SeatState.Revealed || seat.deviceRight != p.majorityRight) continue;
                rest -= share;
                p.verifiersPaid += share;
                stakeToken.safeTransfer(_verifiers[modelId][seat.verifier].owner, share);
            }
        }
        if (rest != 0) {
            p.treasuryPaid += rest;
            stakeToken.safeTransfer(treasury, rest);
        }
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IStakeGuard
    function stakeLock(address device) external view returns (uint256 openDisputes, uint256 lastAnchorAt) {
        openDisputes = _openDisputes[device];
        if (address(innerGuard) != address(0)) {
            (uint256 innerOpen, uint256 innerAnchor) = innerGuard.stakeLock(device);
            openDisputes += innerOpen;
            lastAnchorAt = innerAnchor;
        }
    }

    /// @inheritdoc IAnswerDisputes
    function evidenceHash(bytes32 receiptDigest, bytes calldata claimedOutputs) external pure returns (bytes32) {
        return _evidenceHash(receiptDigest, claimedOutputs);
    }

    /// @inheritdoc IAnswerDisputes
    function disputeId(address device, bytes32 receiptDigest) external pure returns (bytes32) {
        return _disputeId(device, receiptDigest);
    }

    /// @inheritdoc IAnswerDisputes
    function getDispute(bytes32 id) external view returns (Dispute memory) {
        return _disputes[id];
    }

    /// @inheritdoc IAnswerDisputes
    function getSeats(bytes32 id) external view returns (Seat[] memory) {
        return _seats[id];
    }

    /// @inheritdoc IAnswerDisputes
    function getVerifier(uint256 modelId, address device) external view returns (Verifier memory) {
        return _verifiers[modelId][device];
    }

    /// @inheritdoc IAnswerDisputes
    function poolOf(uint256 modelId) external view returns (address[] memory) {
        return _pools[modelId];
    }

    /// @inheritdoc IAnswerDisputes
    function commitmentBlock(bytes32 commitment) external view returns (uint256) {
        return _commitments[commitment];
    }

    // ---------------------------------------------------------------- internals

    /// @dev One decoder of the registry's Device (its strings make the decoding code large).
    function _device(address device) private view returns (address owner, IDeviceRegistry.Status status, uint256 stake) {
        IDeviceRegistry.Device memory d = deviceRegistry.getDevice(device);
        return (d.owner, d.status, d.stake);
    }

    function _phase(bytes32 id, Phase phase) private view returns (Dispute storage dispute) {
        dispute = _disputes[id];
        if (dispute.phase != phase) revert WrongPhase(id, dispute.phase);
    }

    function _seat(bytes32 id, SeatState state) private view returns (Seat storage seat) {
        uint256 index = _seatOf[id][msg.sender];
        if (index == 0) revert NotSeated(id, msg.sender);
        seat = _seats[id][index - 1];
        if (seat.state != state) revert NotSeated(id, msg.sender);
    }

    function _evidenceHash(bytes32 receiptDigest, bytes calldata claimedOutputs) private pure returns (bytes32) {
        return keccak256(abi.encode(receiptDigest, keccak256(claimedOutputs)));
    }

    function _disputeId(address device, bytes32 receiptDigest) private pure returns (bytes32) {
        return keccak256(abi.encode(device, receiptDigest));
    }
}
