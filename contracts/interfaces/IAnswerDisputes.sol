// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IFlightRecorder} from "./IFlightRecorder.sol";
import {IPaymentChannels} from "./IPaymentChannels.sol";
import {IStakeGuard} from "./IStakeGuard.sol";

/// @title IAnswerDisputes
/// @notice Disputes about wrong answers. A reporter holding a device-signed receipt, the inputs and the device's
/// outputs claims the correct outputs differ beyond the model's tolerance; a committee of staked verifiers drawn at
/// random from the model's verifier pool re-runs the model and votes (commit-reveal) whether the device's answer is
/// acceptable. The majority decides: the device is slashed, or the reporter loses its bond. Verifiers that do not
/// reveal or vote against the majority lose part of their verifier bond.
interface IAnswerDisputes is IStakeGuard {
    /// @notice Life cycle of a dispute.
    enum Phase {
        /// @notice No dispute.
        None,
        /// @notice Opened; the committee is drawn from the hash of the block after the open.
        Drawing,
        /// @notice Committee seated: members commit, then reveal their votes.
        Voting,
        /// @notice Decided and paid out.
        Resolved
    }

    /// @notice How a dispute ended.
    enum Outcome {
        /// @notice Not resolved yet.
        Pending,
        /// @notice The majority found the device's answer wrong: the device was slashed.
        DeviceLost,
        /// @notice The majority found the device's answer acceptable: the reporter lost its bond.
        ReporterLost,
        /// @notice Fewer revealed votes than a majority of the committee size, or a tie: bonds returned.
        NoDecision
    }

    /// @notice A committee seat's state.
    enum SeatState {
        /// @notice Drawn, no vote committed yet.
        Seated,
        /// @notice Vote committed.
        Committed,
        /// @notice Vote revealed.
        Revealed,
        /// @notice Did not commit in time and was replaced (penalised at resolution).
        Replaced
    }

    /// @notice Deployment parameters.
    struct Config {
        /// @notice Receives the slashed stake not paid to reporter and verifiers, and undistributable dust.
        address treasury;
        /// @notice Seats per committee: odd, 1..MAX_COMMITTEE.
        uint8 committeeSize;
        /// @notice Share of the device stake slashed when it loses.
        uint16 slashBps;
        /// @notice Share of the slashed stake paid to the reporter.
        uint16 reporterBps;
        /// @notice Share of the slashed stake (device loses) or of the reporter bond (reporter loses) paid to the
        /// majority members.
        uint16 verifierBps;
        /// @notice Share of the verifier bond a member loses for not revealing or voting against the majority.
        uint16 penaltyBps;
        /// @notice Seconds members have to commit after being seated.
        uint40 commitWindow;
        /// @notice Seconds members have to reveal after the commit window.
        uint40 revealWindow;
        /// @notice Bond a reporter posts to open a dispute.
        uint96 reporterBond;
        /// @notice Bond a verifier posts to join a pool.
        uint96 verifierBond;
    }

    /// @notice Evidence of a wrong answer.
    struct Evidence {
        /// @notice The device-signed receipt of the answer.
        IFlightRecorder.Receipt receipt;
        /// @notice The device's EIP-712 signature of the receipt.
        bytes signature;
        /// @notice Terms of the receipt's channel (their hash must be the receipt's channelId).
        IPaymentChannels.ChannelTerms terms;
        /// @notice Canonical encoding of the input tensors (sha256 must be the receipt's inputHash).
        bytes inputs;
        /// @notice Canonical encoding of the device's output tensors (sha256 must be the receipt's outputHash).
        bytes outputs;
        /// @notice Canonical encoding of the outputs the reporter claims are correct.
        bytes claimedOutputs;
    }

    /// @notice A dispute, four storage slots.
    struct Dispute {
        /// @notice The accused device.
        address device;
        /// @notice Phase.
        Phase phase;
        /// @notice Outcome once resolved.
        Outcome outcome;
        /// @notice Seats drawn so far, replacements included.
        uint8 seats;
        /// @notice Seats not replaced.
        uint8 active;
        /// @notice Active seats that committed.
        uint8 committed;
        /// @notice Revealed votes that the device's answer is acceptable.
        uint8 votesRight;
        /// @notice Revealed votes that it is wrong.
        uint8 votesWrong;
        /// @notice Replacement rounds used.
        uint8 rounds;
        /// @notice The reporter, who posted the bond.
        address reporter;
        /// @notice Bond posted.
        uint96 bond;
        /// @notice Model the receipt is for.
        uint64 modelId;
        /// @notice Block whose hash seeds the draw.
        uint64 seedBlock;
        /// @notice Last second a seated member may commit.
        uint40 commitDeadline;
        /// @notice Last second a member may reveal.
        uint40 revealDeadline;
        /// @notice The accused device's owner (receives the bond when the reporter loses).
        address deviceOwner;
    }

    /// @notice A committee seat.
    struct Seat {
        /// @notice The verifier device (its key sends the votes).
        address verifier;
        /// @notice State.
        SeatState state;
        /// @notice Revealed vote: the device's answer is acceptable.
        bool deviceRight;
        /// @notice keccak256(abi.encode(disputeId, verifier, deviceRight, salt)).
        bytes32 commitment;
    }

    /// @notice A verifier's membership of a model's pool.
    struct Verifier {
        /// @notice Device owner at join: posted the bond, receives rewards and the bond back.
        address owner;
        /// @notice Bond left (penalties are taken from it).
        uint96 bond;
        /// @notice Open disputes it sits on.
        uint32 seats;
        /// @notice Position in the pool + 1 (0 when not in the pool).
        uint32 index;
    }

    /// @notice An address given at deployment is zero.
    error ZeroAddress();
    /// @notice A basis-point parameter or a sum of them is out of range.
    /// @param bps The value given.
    error InvalidBps(uint256 bps);
    /// @notice The committee size is not odd or not in 1..MAX_COMMITTEE.
    /// @param size The size given.
    error InvalidCommitteeSize(uint256 size);
    /// @notice A window is zero.
    error ZeroWindow();
    /// @notice The caller does not own the device.
    /// @param device The device.
    /// @param caller The caller.
    error NotDeviceOwner(address device, address caller);
    /// @notice The device is not Active.
    /// @param device The device.
    error DeviceNotActive(address device);
    /// @notice The device owner holds no license for the model.
    /// @param modelId The model.
    /// @param owner The owner.
    error ModelNotLicensed(uint256 modelId, address owner);
    /// @notice The device is already in the model's pool.
    /// @param modelId The model.
    /// @param device The device.
    error AlreadyVerifier(uint256 modelId, address device);
    /// @notice The device is not in the model's pool.
    /// @param modelId The model.
    /// @param device The device.
    error NotVerifier(uint256 modelId, address device);
    /// @notice The model's pool is full.
    /// @param modelId The model.
    /// @param size The pool size.
    error PoolFull(uint256 modelId, uint256 size);
    /// @notice The verifier sits on an open committee and cannot leave.
    /// @param modelId The model.
    /// @param device The verifier.
    /// @param seats Open committees it sits on.
    error VerifierBusy(uint256 modelId, address device, uint256 seats);
    /// @notice No commitment by the caller with this hash (never committed, or committed by another address).
    /// @param commitment keccak256(abi.encode(caller, evidenceHash, salt)).
    error CommitmentNotFound(bytes32 commitment);
    /// @notice The commitment exists already and its open window has not ended.
    /// @param commitment The commitment.
    error CommitmentExists(bytes32 commitment);
    /// @notice The open comes in the commitment's block: it must come at least one block later.
    /// @param commitBlock Block of the commitment.
    error CommitmentTooFresh(uint256 commitBlock);
    /// @notice The open comes after the last block of the commitment's window.
    /// @param commitBlock Block of the commitment.
    /// @param lastBlock Last block an open was accepted.
    error CommitmentExpired(uint256 commitBlock, uint256 lastBlock);
    /// @notice The receipt signature was not made by the device key under this chain's PaymentChannels domain.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param recovered The recovered signer (zero when malformed).
    error InvalidReceiptSignature(address device, bytes32 digest, address recovered);
    /// @notice The terms given do not hash to the receipt's channel id.
    /// @param channelId The receipt's channel id.
    /// @param computed The id of the terms given.
    error ChannelMismatch(bytes32 channelId, bytes32 computed);
    /// @notice The channel was never opened.
    /// @param channelId The channel id.
    error ChannelNotFound(bytes32 channelId);
    /// @notice The channel is not the device's.
    /// @param channelDevice The channel's device.
    /// @param device The accused device.
    error DeviceNotInChannel(address channelDevice, address device);
    /// @notice The receipt names a model other than the channel's, or a model file other than the registry's.
    /// @param modelId The receipt's model id.
    /// @param modelHash The receipt's model hash.
    /// @param channelModelId The channel's model id.
    /// @param contentHash The registry's content hash of the receipt's model.
    error ModelNotOffered(uint256 modelId, bytes32 modelHash, uint256 channelModelId, bytes32 contentHash);
    /// @notice The encoding is larger than the contract accepts.
    /// @param length Its length.
    /// @param max The limit.
    error EvidenceTooLarge(uint256 length, uint256 max);
    /// @notice sha256 of the inputs given is not the receipt's inputHash.
    /// @param expected The receipt's inputHash.
    /// @param computed sha256 of the inputs given.
    error InputHashMismatch(bytes32 expected, bytes32 computed);
    /// @notice sha256 of the device outputs given is not the receipt's outputHash.
    /// @param expected The receipt's outputHash.
    /// @param computed sha256 of the outputs given.
    error OutputHashMismatch(bytes32 expected, bytes32 computed);
    /// @notice The claimed outputs are within the model's tolerance of the device's: nothing to dispute.
    /// @param modelId The model.
    error WithinTolerance(uint256 modelId);
    /// @notice A dispute about this receipt exists already.
    /// @param id The dispute id.
    error DisputeExists(bytes32 id);
    /// @notice The device has no stake left.
    /// @param device The device.
    error NothingAtStake(address device);
    /// @notice The model's pool has fewer verifiers than a committee needs.
    /// @param modelId The model.
    /// @param size The pool size.
    /// @param committeeSize Seats per committee.
    error PoolTooSmall(uint256 modelId, uint256 size, uint256 committeeSize);
    /// @notice The dispute is not in the phase the call needs.
    /// @param id The dispute.
    /// @param phase Its phase.
    error WrongPhase(bytes32 id, Phase phase);
    /// @notice The seed block's hash is not known yet.
    /// @param seedBlock The seed block.
    error SeedNotReady(uint256 seedBlock);
    /// @notice The caller holds no seat in the state the call needs.
    /// @param id The dispute.
    /// @param caller The caller.
    error NotSeated(bytes32 id, address caller);
    /// @notice The commit window is over.
    /// @param id The dispute.
    /// @param deadline Its last second.
    error CommitWindowOver(bytes32 id, uint256 deadline);
    /// @notice The commit window is still open.
    /// @param id The dispute.
    /// @param deadline Its last second.
    error CommitWindowOpen(bytes32 id, uint256 deadline);
    /// @notice The reveal window is over.
    /// @param id The dispute.
    /// @param deadline Its last second.
    error RevealWindowOver(bytes32 id, uint256 deadline);
    /// @notice The reveal window is still open.
    /// @param id The dispute.
    /// @param deadline Its last second.
    error RevealWindowOpen(bytes32 id, uint256 deadline);
    /// @notice The vote and salt do not match the commitment.
    /// @param id The dispute.
    /// @param verifier The verifier.
    error InvalidReveal(bytes32 id, address verifier);
    /// @notice Members did not commit and a replacement round is still available: call replaceAbsent first.
    /// @param id The dispute.
    /// @param absent Members without a commitment.
    error ReplacementPending(bytes32 id, uint256 absent);
    /// @notice Nobody to replace, or no replacement round left.
    /// @param id The dispute.
    error NothingToReplace(bytes32 id);

    /// @notice A verifier joined a model's pool.
    event VerifierJoined(uint256 indexed modelId, address indexed device, address indexed owner, uint256 bond);
    /// @notice A verifier left a model's pool and got its bond back.
    event VerifierLeft(uint256 indexed modelId, address indexed device, address indexed owner, uint256 refund);
    /// @notice A reporter committed to evidence.
    event EvidenceCommitted(address indexed reporter, bytes32 indexed commitment);
    /// @notice A dispute was opened. Verifiers read the inputs from this transaction's calldata.
    event DisputeOpened(
        bytes32 indexed id,
        address indexed device,
        address indexed reporter,
        uint256 modelId,
        bytes32 receiptDigest,
        bytes32 claimedOutputsHash,
        uint256 bond,
        uint256 seedBlock
    );
    /// @notice The seed block's hash was out of reach (over 256 blocks old): the draw waits for a new seed block.
    event SeedRenewed(bytes32 indexed id, uint256 seedBlock);
    /// @notice A verifier was seated on the committee.
    event MemberSeated(bytes32 indexed id, address indexed verifier, uint256 seat, uint256 commitDeadline, uint256 revealDeadline);
    /// @notice A member that did not commit in time was replaced.
    event MemberReplaced(bytes32 indexed id, address indexed verifier, uint256 seat);
    /// @notice A member committed its vote.
    event VoteCommitted(bytes32 indexed id, address indexed verifier);
    /// @notice A member revealed its vote.
    event VoteRevealed(bytes32 indexed id, address indexed verifier, bool deviceRight);
    /// @notice A member lost part of its bond (no reveal, or against the majority).
    event VerifierPenalised(bytes32 indexed id, address indexed verifier, uint256 amount);
    /// @notice A dispute was resolved.
    /// @param slashed Stake taken from the device (DeviceLost).
    /// @param reporterPaid Paid to the reporter: reward plus returned bond.
    /// @param verifiersPaid Paid to the majority members in total.
    /// @param treasuryPaid Paid to the treasury.
    event DisputeResolved(
        bytes32 indexed id,
        Outcome outcome,
        uint256 votesRight,
        uint256 votesWrong,
        uint256 slashed,
        uint256 reporterPaid,
        uint256 verifiersPaid,
        uint256 treasuryPaid
    );

    /// @notice Joins `device` (owned by the caller, Active, owner licensed) to `modelId`'s verifier pool, pulling the
    /// verifier bond from the caller.
    function joinPool(uint256 modelId, address device) external;
    /// @notice Leaves the pool (not while seated on an open committee) and refunds the bond left.
    function leavePool(uint256 modelId, address device) external;
    /// @notice Commits to evidence: `commitment = keccak256(abi.encode(msg.sender, evidenceHash, salt))`. An expired
    /// commitment can be committed again.
    function commitEvidence(bytes32 commitment) external;
    /// @notice Opens a dispute with the committed evidence; pulls the reporter bond.
    function openDispute(address device, Evidence calldata evidence, bytes32 salt) external returns (bytes32 id);
    /// @notice Draws the committee from the seed block's hash (anyone may call).
    function drawCommittee(bytes32 id) external;
    /// @notice Replaces the members that did not commit by the deadline and restarts the windows (anyone may call).
    function replaceAbsent(bytes32 id) external;
    /// @notice A seated verifier (its device key) commits `keccak256(abi.encode(id, verifier, deviceRight, salt))`.
    function commitVote(bytes32 id, bytes32 commitment) external;
    /// @notice Reveals a committed vote.
    function revealVote(bytes32 id, bool deviceRight, bytes32 salt) external;
    /// @notice After the reveal window, decides and pays (anyone may call).
    function resolve(bytes32 id) external;

    /// @notice `keccak256(abi.encode(receiptDigest, keccak256(claimedOutputs)))`: what a reporter commits to.
    function evidenceHash(bytes32 receiptDigest, bytes calldata claimedOutputs) external pure returns (bytes32);
    /// @notice The dispute id of a device's receipt.
    function disputeId(address device, bytes32 receiptDigest) external pure returns (bytes32);
    /// @notice A dispute.
    function getDispute(bytes32 id) external view returns (Dispute memory);
    /// @notice A dispute's seats.
    function getSeats(bytes32 id) external view returns (Seat[] memory);
    /// @notice A verifier's membership.
    function getVerifier(uint256 modelId, address device) external view returns (Verifier memory);
    /// @notice A model's pool.
    function poolOf(uint256 modelId) external view returns (address[] memory);
    /// @notice Block of a reporter commitment (0 when none).
    function commitmentBlock(bytes32 commitment) external view returns (uint256);
}
