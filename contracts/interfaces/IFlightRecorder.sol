// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPaymentChannels} from "./IPaymentChannels.sol";
import {IStakeGuard} from "./IStakeGuard.sol";

/// @title IFlightRecorder
/// @notice Tamper-evident record of paid inferences. A device signs an EIP-712 `Receipt` for every answer (under the
/// PaymentChannels domain), numbers its receipts device-wide from 1 and hash-chains them; it anchors the Merkle root
/// of each contiguous sequence range here, ideally in the same transaction as its claims. Two dispute paths make
/// provable misbehaviour cost the device its stake: equivocation (two different outputs for the same model and
/// input) and omission (a signed receipt inside an anchored range that the device cannot prove was included).
interface IFlightRecorder is IStakeGuard {
    /// @notice What a device signs for every paid answer: EIP-712 `Receipt(bytes32 channelId,uint256
    /// cumulativeAmount,uint64 units,uint64 sequence,uint256 modelId,bytes32 modelHash,bytes32 inputHash,bytes32 outputHash,
    /// bytes32 previous,uint64 timestamp)` under the domain {name: "Edgepay PaymentChannels", version: "1", chainId,
    /// verifyingContract: PaymentChannels}.
    struct Receipt {
        /// @notice Channel the answer was paid through.
        bytes32 channelId;
        /// @notice Cumulative amount of the voucher that paid for it.
        uint256 cumulativeAmount;
        /// @notice Units of work charged for the answer (cumulativeAmount - previous voucher = units x price).
        uint64 units;
        /// @notice Device-wide sequence number, from 1 without gaps.
        uint64 sequence;
        /// @notice ModelRegistry id of the model version that answered.
        uint256 modelId;
        /// @notice sha256 of the .onnx file that answered.
        bytes32 modelHash;
        /// @notice Canonical hash of the input tensors.
        bytes32 inputHash;
        /// @notice Canonical hash of the output tensors.
        bytes32 outputHash;
        /// @notice EIP-712 digest of the device's previous receipt (zero for sequence 1): the hash chain.
        bytes32 previous;
        /// @notice Unix time the device answered.
        uint64 timestamp;
    }

    /// @notice Life cycle of an omission challenge.
    enum ChallengeStatus {
        /// @notice No challenge for this receipt.
        None,
        /// @notice Waiting for the device's inclusion proof.
        Open,
        /// @notice The inclusion proof was posted; the bond went to the device owner.
        Answered,
        /// @notice No proof in time; the device was slashed and the bond refunded.
        Enforced
    }

    /// @notice An omission challenge, two storage slots.
    struct Challenge {
        /// @notice Who challenged, posted the bond and receives the reward if the device is slashed.
        address challenger;
        /// @notice Last second at which the device may answer.
        uint40 deadline;
        /// @notice Status.
        ChallengeStatus status;
        /// @notice Anchored Merkle root the receipt must be proven against.
        bytes32 root;
    }

    /// @notice A device's anchoring and dispute state, one storage slot.
    struct DeviceLog {
        /// @notice Highest anchored sequence; the next anchor must start at anchoredSeq + 1.
        uint64 anchoredSeq;
        /// @notice True once the device was slashed for equivocation (it cannot be convicted twice).
        bool convicted;
        /// @notice Block time of the device's last anchor (0 if none): its stake cannot be withdrawn before
        /// lastAnchorAt + the registry's unbonding delay.
        uint40 lastAnchorAt;
        /// @notice Omission challenges against the device still open: its stake cannot be withdrawn while > 0.
        uint32 openChallenges;
    }

    /// @notice An address given at deployment is zero.
    error ZeroAddress();
    /// @notice A basis-point parameter is out of range.
    /// @param bps The value given.
    error InvalidBps(uint256 bps);
    /// @notice The answer window is zero or not shorter than the registry's unbonding delay (a device could then
    /// withdraw its stake before an omission challenge against it can be enforced).
    /// @param answerWindow The window given.
    /// @param unbondingDelay The registry's unbonding delay.
    error InvalidAnswerWindow(uint256 answerWindow, uint256 unbondingDelay);
    /// @notice The anchored root is zero.
    error ZeroRoot();
    /// @notice The anchor does not continue the device's anchored ranges, or its range is empty.
    /// @param device The device.
    /// @param fromSeq First sequence of the anchor.
    /// @param toSeq Last sequence of the anchor.
    /// @param expectedFrom The sequence the next anchor must start at.
    error NonContiguousAnchor(address device, uint64 fromSeq, uint64 toSeq, uint64 expectedFrom);
    /// @notice A receipt signature was not made by the device's key under this chain's PaymentChannels domain
    /// (forged, malformed, or signed for another chain or contract).
    /// @param device The device that should have signed.
    /// @param digest The receipt digest computed here.
    /// @param recovered The signer the signature recovers to (zero when malformed).
    error InvalidReceiptSignature(address device, bytes32 digest, address recovered);
    /// @notice The two receipts are for different models or model versions: no equivocation.
    /// @param modelIdA Model id of the first receipt.
    /// @param modelHashA Model hash of the first receipt.
    /// @param modelIdB Model id of the second receipt.
    /// @param modelHashB Model hash of the second receipt.
    error ModelMismatch(uint256 modelIdA, bytes32 modelHashA, uint256 modelIdB, bytes32 modelHashB);
    /// @notice The two receipts are for different inputs: no equivocation.
    /// @param inputHashA Input hash of the first receipt.
    /// @param inputHashB Input hash of the second receipt.
    error InputMismatch(bytes32 inputHashA, bytes32 inputHashB);
    /// @notice The two receipts report the same output: no equivocation.
    /// @param outputHash The common output hash.
    error IdenticalOutputs(bytes32 outputHash);
    /// @notice The device was already convicted of equivocation.
    /// @param device The device.
    error AlreadyConvicted(address device);
    /// @notice The device has no stake left to slash.
    /// @param device The device.
    error NothingAtStake(address device);
    /// @notice The receipt's sequence is zero or above the device's highest anchored sequence.
    /// @param device The device.
    /// @param sequence The receipt's sequence.
    /// @param anchoredSeq The device's highest anchored sequence.
    error SequenceNotAnchored(address device, uint64 sequence, uint64 anchoredSeq);
    /// @notice The device anchored no root with this range.
    /// @param device The device.
    /// @param root The root given.
    /// @param fromSeq The first sequence given.
    /// @param toSeq The last sequence given.
    error AnchorNotFound(address device, bytes32 root, uint64 fromSeq, uint64 toSeq);
    /// @notice The receipt's sequence lies outside the anchor's range.
    /// @param sequence The receipt's sequence.
    /// @param fromSeq First sequence of the anchor.
    /// @param toSeq Last sequence of the anchor.
    error SequenceOutOfRange(uint64 sequence, uint64 fromSeq, uint64 toSeq);
    /// @notice This receipt was challenged already.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param status The existing challenge's status.
    error ChallengeExists(address device, bytes32 digest, ChallengeStatus status);
    /// @notice There is no open challenge for this receipt.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param status The challenge's status.
    error ChallengeNotOpen(address device, bytes32 digest, ChallengeStatus status);
    /// @notice The answer window is over; the challenge can only be enforced.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param deadline Last second an answer was accepted.
    error AnswerWindowOver(address device, bytes32 digest, uint256 deadline);
    /// @notice The answer window is still open; the challenge cannot be enforced yet.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param deadline Last second an answer is accepted.
    error AnswerWindowOpen(address device, bytes32 digest, uint256 deadline);
    /// @notice The inclusion proof does not lead to the challenged anchor's root.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param root The anchored root.
    /// @param computed The root the proof leads to.
    error InvalidInclusionProof(address device, bytes32 digest, bytes32 root, bytes32 computed);

    /// @notice A device anchored the Merkle root of its receipts `fromSeq..toSeq`.
    /// @param device The device key that signed the receipts and sent the anchor.
    /// @param fromSeq First sequence in the tree.
    /// @param toSeq Last sequence in the tree.
    /// @param root Merkle root over the receipts' leaves (see ReceiptHash.leaf).
    /// @param head EIP-712 digest of receipt `toSeq`, the head of the hash chain.
    event Anchored(address indexed device, uint64 indexed fromSeq, uint64 toSeq, bytes32 root, bytes32 head);
    /// @notice A device was slashed for signing two different outputs for the same model and input.
    /// @param device The device.
    /// @param reporter Who submitted the receipts and received the reward.
    /// @param digestA Digest of the first receipt.
    /// @param digestB Digest of the second receipt.
    /// @param slashed Total stake slashed.
    /// @param reward Part of it paid to the reporter (the rest went to the treasury).
    event EquivocationProven(
        address indexed device, address indexed reporter, bytes32 digestA, bytes32 digestB, uint256 slashed, uint256 reward
    );
    /// @notice A buyer challenged the device to prove a receipt's inclusion in an anchor.
    /// @param device The device.
    /// @param digest The receipt digest (with the device, the challenge's identity).
    /// @param challenger Who challenged and posted the bond.
    /// @param sequence The receipt's sequence.
    /// @param root The anchored root the receipt must be proven against.
    /// @param deadline Last second the device may answer.
    /// @param bond Bond posted in the stake token.
    event OmissionChallenged(
        address indexed device,
        bytes32 indexed digest,
        address indexed challenger,
        uint64 sequence,
        bytes32 root,
        uint256 deadline,
        uint256 bond
    );
    /// @notice The inclusion proof was posted; the bond went to the device owner.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param answerer Who posted the proof.
    /// @param bondRecipient The device owner, who received the bond.
    event OmissionAnswered(address indexed device, bytes32 indexed digest, address answerer, address bondRecipient);
    /// @notice The device did not prove inclusion in time and was slashed; the bond was refunded.
    /// @param device The device.
    /// @param digest The receipt digest.
    /// @param challenger The challenger, who received the reward and the bond.
    /// @param slashed Total stake slashed.
    /// @param reward Part of it paid to the challenger (the rest went to the treasury).
    event OmissionEnforced(
        address indexed device, bytes32 indexed digest, address indexed challenger, uint256 slashed, uint256 reward
    );

    /// @notice Anchors the root of the caller's receipts `fromSeq..toSeq`; the caller is the device key.
    /// @param root Merkle root over the receipts' leaves.
    /// @param fromSeq Must be the device's anchored sequence + 1.
    /// @param toSeq Last sequence in the tree, at least `fromSeq`.
    /// @param head Digest of receipt `toSeq` (emitted for auditors).
    function anchor(bytes32 root, uint64 fromSeq, uint64 toSeq, bytes32 head) external;
    /// @notice `PaymentChannels.claimMany(claims)` then `anchor(root, fromSeq, toSeq, head)` in one transaction.
    /// Payouts go to each claim's payee exactly as with claimMany.
    function claimAndAnchor(IPaymentChannels.Claim[] calldata claims, bytes32 root, uint64 fromSeq, uint64 toSeq, bytes32 head)
        external;
    /// @notice Slashes `device` with two receipts it signed for the same model and input with different outputs, and
    /// removes it from the market. The reporter (caller) receives `reporterBps` of the slashed stake.
    function reportEquivocation(
        address device,
        Receipt calldata a,
        bytes calldata signatureA,
        Receipt calldata b,
        bytes calldata signatureB
    ) external;
    /// @notice Challenges `device` to prove that `receipt` is in its anchor `root` over `fromSeq..toSeq`. Pulls the
    /// challenge bond in the stake token from the caller.
    function challengeOmission(
        address device,
        Receipt calldata receipt,
        bytes calldata signature,
        bytes32 root,
        uint64 fromSeq,
        uint64 toSeq
    ) external;
    /// @notice Answers an open challenge with the receipt's Merkle proof (anyone may post it); the bond goes to the
    /// device owner.
    function answerOmission(address device, bytes32 digest, bytes32[] calldata proof) external;
    /// @notice After the answer window, slashes the device, removes it from the market, pays the challenger its
    /// reward and refunds its bond. Anyone may call.
    function enforceOmission(address device, bytes32 digest) external;

    /// @notice EIP-712 digest of a receipt under this chain's PaymentChannels domain.
    function receiptDigest(Receipt calldata receipt) external view returns (bytes32);
    /// @notice The PaymentChannels EIP-712 domain separator on this chain.
    function domainSeparator() external view returns (bytes32);
    /// @notice A device's anchoring state.
    function deviceLog(address device) external view returns (DeviceLog memory);
    /// @notice Whether `device` anchored `root` over exactly `fromSeq..toSeq`.
    function isAnchored(address device, bytes32 root, uint64 fromSeq, uint64 toSeq) external view returns (bool);
    /// @notice The omission challenge of a receipt (all zero when none).
    function getChallenge(address device, bytes32 digest) external view returns (Challenge memory);
}
