// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {RoyaltyMath} from "./libraries/RoyaltyMath.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";
import {ExactReceiver} from "./ExactReceiver.sol";

/// @title PaymentChannels
/// @notice Per-inference payment channels with EIP-712 cumulative vouchers, batch claims and on-chain royalties.
/// @dev Trust model (README, "Tokens and trust model"): no timing, token or role can take a party's money.
/// - Payouts and refunds are pushed with a low-level transfer that cannot revert the claim: when it fails (token
///   paused, recipient blacklisted or reverting) the amount is credited to `creditOf(recipient, token)` and
///   withdrawn later with `withdrawCredit`, so a provider's vouchers never expire unpaid and one payee that cannot
///   receive never fails a batch.
/// - Only exact-transfer tokens: `open` and `topUp` measure what arrived and `open` probes the outgoing side with a
///   self-transfer; a fee-on-transfer or sender-taxed token is refused with `UnsupportedToken`, so no channel can be
///   paid with another channel's money. Rebasing-down or clawback tokens cannot be detected and are unsupported.
/// - Royalty is computed on the cumulative amount (`royalty(cumulative) - royalty(claimed)`), so it is exact
///   whatever the claim granularity: splitting a channel into tiny claims cannot round the model owner's share away.
/// - Voucher signers must be keys (EOAs, or EIP-7702 delegated EOAs): contract signers are refused at `open`.
/// Gas: the claim paths read and write a channel as one packed word (layout of `Channel`, see `_CLAIMED_SHIFT`)
/// and hash the terms straight from calldata; gas/snapshot.md has the figures (`npm run gas`).
contract PaymentChannels is IPaymentChannels, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type of a buyer's voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");
    /// @notice EIP-712 type of a device's consent to a cooperative close.
    bytes32 public constant CLOSE_TYPEHASH = keccak256("CloseChannel(bytes32 channelId,uint256 cumulativeAmount)");

    // Bit layout of a `Channel` slot; Solidity packs struct members from the low-order end:
    // deposit [0, 96), claimed [96, 192), closesAt [192, 232), settled [232, 240).
    uint256 private constant _CLAIMED_SHIFT = 96;
    uint256 private constant _CLOSES_AT_SHIFT = 192;
    uint256 private constant _SETTLED_SHIFT = 232;
    uint256 private constant _MASK_96 = (1 << 96) - 1;
    uint256 private constant _MASK_40 = (1 << 40) - 1;

    /// @notice Shortest challenge period accepted: a payer must not be able to close before the provider's
    /// watchtower or settler can react (one minute is the floor for tests and local chains; production uses hours).
    uint40 public constant MIN_CHALLENGE_PERIOD = 60;
    /// @notice Longest challenge period accepted: bounds a payer's wait and keeps `block.timestamp + period` far
    /// inside the 40-bit `closesAt` field.
    uint40 public constant MAX_CHALLENGE_PERIOD = 30 days;
    /// @dev Gas a payout or refund transfer may use before it counts as failed (and is credited instead).
    uint256 private constant _TRANSFER_GAS = 300_000;

    IDeviceRegistry public immutable deviceRegistry;
    IModelRegistry public immutable modelRegistry;
    /// @inheritdoc IPaymentChannels
    uint40 public immutable challengePeriod;
    /// @notice Implementation every offering's `exact` receiver clones.
    address public immutable exactReceiverImplementation;

    mapping(bytes32 channelId => Channel) private _channels;
    mapping(uint256 modelId => mapping(address token => uint256)) private _royalties;
    mapping(address account => mapping(address token => uint256)) private _credits;

    /// @dev What a batch claim has booked but not yet transferred or accrued.
    struct Run {
        address token;
        address payee;
        uint256 payout;
        uint256 modelId;
        address royaltyToken;
        uint256 royalty;
    }

    constructor(IDeviceRegistry deviceRegistry_, IModelRegistry modelRegistry_, uint40 challengePeriod_)
        EIP712("Edgepay PaymentChannels", "1")
    {
        if (address(deviceRegistry_) == address(0) || address(modelRegistry_) == address(0)) revert ZeroAddress();
        if (challengePeriod_ < MIN_CHALLENGE_PERIOD || challengePeriod_ > MAX_CHALLENGE_PERIOD) {
            revert ChallengePeriodOutOfRange(challengePeriod_, MIN_CHALLENGE_PERIOD, MAX_CHALLENGE_PERIOD);
        }
        deviceRegistry = deviceRegistry_;
        modelRegistry = modelRegistry_;
        challengePeriod = challengePeriod_;
        exactReceiverImplementation = address(new ExactReceiver());
    }

    // ---------------------------------------------------------------- open, top up

    /// @inheritdoc IPaymentChannels
    function open(ChannelTerms calldata terms, uint96 deposit) external nonReentrant returns (bytes32) {
        return _open(terms, deposit);
    }

    /// @inheritdoc IPaymentChannels
    function openWithPermit(ChannelTerms calldata terms, uint96 deposit, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        returns (bytes32)
    {
        _permit(terms.token, deposit, deadline, v, r, s);
        return _open(terms, deposit);
    }

    /// @inheritdoc IPaymentChannels
    function topUp(ChannelTerms calldata terms, uint96 amount) external nonReentrant {
        _topUp(terms, amount);
    }

    /// @inheritdoc IPaymentChannels
    function topUpWithPermit(ChannelTerms calldata terms, uint96 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        _permit(terms.token, amount, deadline, v, r, s);
        _topUp(terms, amount);
    }

    // ---------------------------------------------------------------- claims

    /// @inheritdoc IPaymentChannels
    function claim(ChannelTerms calldata terms, uint256 cumulativeAmount, bytes calldata signature) external nonReentrant {
        bytes32 id = _idOf(terms);
        (Channel storage ch, uint256 word) = _live(id);
        uint256 claimed = (word >> _CLAIMED_SHIFT) & _MASK_96;
        if (cumulativeAmount <= claimed) revert NothingToClaim(id, cumulativeAmount, claimed);
        _checkClaimable(id, word, cumulativeAmount);
        _checkSignature(id, _digest(VOUCHER_TYPEHASH, id, cumulativeAmount), _signerOf(terms), signature);
        (uint256 payout, uint256 royalty) = _book(id, ch, word, terms, cumulativeAmount, claimed);
        address token = _tokenOf(terms);
        // Accrued royalties of a (model, token) never exceed the token's total supply.
        unchecked {
            if (royalty != 0) _royalties[_modelIdOf(terms)][token] += royalty;
        }
        if (payout != 0) _pay(token, _payeeOf(terms), payout);
    }

    /// @inheritdoc IPaymentChannels
    function claimMany(Claim[] calldata claims) external nonReentrant {
        uint256 n = claims.length;
        if (n == 0) revert EmptyBatch();
        // Payouts are summed per run of equal (token, payee) and royalties per run of equal (modelId, token), so a
        // batch for one provider and model costs one transfer and one royalty write, not one per channel.
        Run memory run;
        run.token = claims[0].terms.token;
        run.payee = claims[0].terms.payee;
        for (uint256 i; i < n;) {
            Claim calldata item = claims[i];
            ChannelTerms calldata terms = item.terms;
            uint256 amount = item.cumulativeAmount;
            bytes32 id = _idOf(terms);
            (Channel storage ch, uint256 word) = _live(id);
            uint256 claimed = (word >> _CLAIMED_SHIFT) & _MASK_96;
            // Already claimed (e.g. by a watchtower or an earlier batch): skipping keeps the rest of the batch alive.
            if (amount > claimed) {
                _checkClaimable(id, word, amount);
                _checkSignature(id, _digest(VOUCHER_TYPEHASH, id, amount), _signerOf(terms), item.signature);
                (uint256 payout, uint256 royalty) = _book(id, ch, word, terms, amount, claimed);
                _add(run, terms, payout, royalty);
            }
            unchecked {
                ++i;
            }
        }
        _flush(run);
    }

    // ---------------------------------------------------------------- close

    /// @inheritdoc IPaymentChannels
    function requestClose(ChannelTerms calldata terms) external {
        bytes32 id = _idOf(terms);
        (Channel storage ch, uint256 word) = _live(id);
        if (msg.sender != terms.payer) revert NotPayer(id, msg.sender);
        uint256 current = (word >> _CLOSES_AT_SHIFT) & _MASK_40;
        if (current != 0) revert ChannelClosing(id, current);
        uint40 closesAt = uint40(block.timestamp) + challengePeriod;
        ch.closesAt = closesAt;
        emit CloseRequested(id, closesAt);
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(ChannelTerms calldata terms) external nonReentrant {
        bytes32 id = _idOf(terms);
        (Channel storage ch, uint256 word) = _live(id);
        uint256 closesAt = (word >> _CLOSES_AT_SHIFT) & _MASK_40;
        if (closesAt == 0) revert ChannelNotClosing(id);
        if (block.timestamp < closesAt) revert ChallengePeriodActive(id, closesAt);
        _settle(id, ch, terms, word & _MASK_96, (word >> _CLAIMED_SHIFT) & _MASK_96, false);
    }

    /// @inheritdoc IPaymentChannels
    function closeCooperatively(ChannelTerms calldata terms, uint256 cumulativeAmount, bytes calldata deviceSignature)
        external
        nonReentrant
    {
        bytes32 id = _idOf(terms);
        (Channel storage ch, uint256 word) = _live(id);
        if (msg.sender != terms.payer) revert NotPayer(id, msg.sender);
        uint256 deposit = word & _MASK_96;
        uint256 claimed = (word >> _CLAIMED_SHIFT) & _MASK_96;
        if (cumulativeAmount > deposit) revert ChannelAmountTooHigh(cumulativeAmount, deposit);
        if (cumulativeAmount < claimed) revert AmountBelowClaimed(cumulativeAmount, claimed);
        _checkSignature(id, _digest(CLOSE_TYPEHASH, id, cumulativeAmount), terms.device, deviceSignature);
        if (cumulativeAmount != claimed) {
            (uint256 payout, uint256 royalty) = _book(id, ch, word, terms, cumulativeAmount, claimed);
            if (royalty != 0) _royalties[terms.modelId][terms.token] += royalty;
            if (payout != 0) _pay(terms.token, terms.payee, payout);
        }
        _settle(id, ch, terms, deposit, cumulativeAmount, true);
    }

    // ---------------------------------------------------------------- x402 exact

    /// @inheritdoc IPaymentChannels
    function settleExact(address device, uint256 modelId, address token, ExactAuthorization[] calldata auths)
        external
        nonReentrant
        returns (uint256 amount)
    {
        // The payee and royalty of the offering now, read the way `open` reads them: an inactive device or a
        // deprecated model reverts, and the money waits in the receiver (nobody else can move it) until it is active.
        (address payee,) = deviceRegistry.channelTerms(device, modelId, token);
        (, uint16 royaltyBps) = modelRegistry.channelTerms(modelId);
        bytes32 salt = _exactSalt(device, modelId, token);
        address receiver = Clones.predictDeterministicAddress(exactReceiverImplementation, salt);
        if (receiver.code.length == 0) Clones.cloneDeterministic(exactReceiverImplementation, salt);
        uint256 n = auths.length;
        for (uint256 i; i < n;) {
            ExactAuthorization calldata a = auths[i];
            // Used already (by a front-runner submitting it straight to the token): its money is in the receiver.
            // A cancelled nonce is skipped the same way; it moved nothing, so the sweep below finds less.
            if (!IERC3009(token).authorizationState(a.from, a.nonce)) {
                IERC3009(token).transferWithAuthorization(a.from, receiver, a.value, a.validAfter, a.validBefore, a.nonce, a.signature);
            }
            unchecked {
                ++i;
            }
        }
        // Measured, not trusted: a token that delivers less than the receiver's balance splits only what arrived.
        uint256 before = IERC20(token).balanceOf(address(this));
        ExactReceiver(receiver).sweep(token);
        amount = IERC20(token).balanceOf(address(this)) - before;
        if (amount == 0) revert NothingToSettle(receiver, token);
        uint256 royalty = RoyaltyMath.royalty(amount, royaltyBps);
        if (royalty != 0) _royalties[modelId][token] += royalty;
        emit ExactSettled(device, modelId, token, payee, amount, royalty);
        _pay(token, payee, amount - royalty);
    }

    /// @inheritdoc IPaymentChannels
    function exactReceiver(address device, uint256 modelId, address token) external view returns (address) {
        return Clones.predictDeterministicAddress(exactReceiverImplementation, _exactSalt(device, modelId, token));
    }

    /// @inheritdoc IPaymentChannels
    function withdrawRoyalties(uint256 modelId, address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (modelRegistry.getModel(modelId).owner != msg.sender) revert NotRoyaltyOwner(modelId, msg.sender);
        uint256 amount = _royalties[modelId][token];
        if (amount == 0) revert ZeroAmount();
        _royalties[modelId][token] = 0;
        emit RoyaltiesWithdrawn(modelId, token, to, amount);
        _sendExact(token, to, amount);
    }

    /// @inheritdoc IPaymentChannels
    function withdrawCredit(address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 amount = _credits[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        _credits[msg.sender][token] = 0;
        emit CreditWithdrawn(msg.sender, token, to, amount);
        _sendExact(token, to, amount);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IPaymentChannels
    function channelId(ChannelTerms calldata terms) public pure returns (bytes32) {
        return keccak256(abi.encode(terms));
    }

    /// @inheritdoc IPaymentChannels
    function getChannel(bytes32 id) external view returns (Channel memory) {
        return _channels[id];
    }

    /// @inheritdoc IPaymentChannels
    function royaltiesOf(uint256 modelId, address token) external view returns (uint256) {
        return _royalties[modelId][token];
    }

    /// @inheritdoc IPaymentChannels
    function creditOf(address account, address token) external view returns (uint256) {
        return _credits[account][token];
    }

    /// @inheritdoc IPaymentChannels
    function voucherDigest(bytes32 id, uint256 cumulativeAmount) external view returns (bytes32) {
        return _digest(VOUCHER_TYPEHASH, id, cumulativeAmount);
    }

    /// @inheritdoc IPaymentChannels
    function closeDigest(bytes32 id, uint256 cumulativeAmount) external view returns (bytes32) {
        return _digest(CLOSE_TYPEHASH, id, cumulativeAmount);
    }

    // ---------------------------------------------------------------- internals

    function _open(ChannelTerms calldata terms, uint96 deposit) private returns (bytes32 id) {
        // Every field below is read through Solidity's calldata accessors, which revert on non-canonical
        // (dirty) words; so the id stored here always equals keccak256(abi.encode(terms)). See `_idOf`.
        id = _idOf(terms);
        if (msg.sender != terms.payer) revert NotPayer(id, msg.sender);
        if (terms.signer == address(0) || terms.token == address(0)) revert ZeroAddress();
        if (deposit == 0) revert ZeroAmount();
        _requireKeySigner(terms.signer);
        Channel storage ch = _channels[id];
        if (ch.deposit != 0 || ch.settled) revert ChannelExists(id);

        (address owner, uint96 price) = deviceRegistry.channelTerms(terms.device, terms.modelId, terms.token);
        if (terms.price != price) revert PriceMismatch(terms.price, price);
        if (terms.payee != owner) revert PayeeMismatch(terms.payee, owner);
        (, uint16 royaltyBps) = modelRegistry.channelTerms(terms.modelId);
        if (terms.royaltyBps != royaltyBps) revert RoyaltyMismatch(terms.royaltyBps, royaltyBps);

        uint256 held = _pull(terms.token, deposit);
        _probeOutgoing(terms.token, deposit, held);
        ch.deposit = deposit;
        emit ChannelOpened(id, terms.payer, terms.device, terms, deposit);
    }

    function _topUp(ChannelTerms calldata terms, uint96 amount) private {
        bytes32 id = _idOf(terms);
        (Channel storage ch, uint256 word) = _live(id);
        if (amount == 0) revert ZeroAmount();
        uint256 closesAt = (word >> _CLOSES_AT_SHIFT) & _MASK_40;
        if (closesAt != 0) revert ChannelClosing(id, closesAt);
        uint256 current = word & _MASK_96;
        uint256 deposit = current + amount;
        if (deposit > type(uint96).max) revert DepositOverflow(current, amount);
        ch.deposit = uint96(deposit);
        emit ChannelToppedUp(id, amount, deposit);
        _pull(terms.token, amount);
    }

    function _exactSalt(address device, uint256 modelId, address token) private pure returns (bytes32) {
        return keccak256(abi.encode(device, modelId, token));
    }

    /// @dev keccak256(abi.encode(terms)) without re-encoding: ChannelTerms is a static struct, so its ABI encoding
    /// is exactly its nine calldata words. Terms with a non-canonical word hash to an id no channel has, since
    /// `_open` rejects them.
    function _idOf(ChannelTerms calldata terms) private pure returns (bytes32 id) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, terms, 0x120)
            id := keccak256(ptr, 0x120)
        }
    }

    // Readers for terms whose id matched a stored channel: `_open` validated those exact words, so plain loads
    // are safe and skip the calldata accessors' cleanup checks.
    function _signerOf(ChannelTerms calldata terms) private pure returns (address a) {
        assembly ("memory-safe") {
            a := calldataload(add(terms, 0x20))
        }
    }

    function _payeeOf(ChannelTerms calldata terms) private pure returns (address a) {
        assembly ("memory-safe") {
            a := calldataload(add(terms, 0x60))
        }
    }

    function _tokenOf(ChannelTerms calldata terms) private pure returns (address a) {
        assembly ("memory-safe") {
            a := calldataload(add(terms, 0x80))
        }
    }

    function _modelIdOf(ChannelTerms calldata terms) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := calldataload(add(terms, 0xa0))
        }
    }

    function _royaltyBpsOf(ChannelTerms calldata terms) private pure returns (uint256 v) {
        assembly ("memory-safe") {
            v := calldataload(add(terms, 0xe0))
        }
    }

    /// @dev A live channel (exists, not settled) and its packed slot.
    function _live(bytes32 id) private view returns (Channel storage ch, uint256 word) {
        ch = _channels[id];
        assembly ("memory-safe") {
            word := sload(ch.slot)
        }
        if (word >> _SETTLED_SHIFT != 0) revert ChannelIsSettled(id);
        if (word & _MASK_96 == 0) revert ChannelNotFound(id);
    }

    /// @dev A voucher for `amount` may be paid: the challenge period (if any) is running and the deposit covers it.
    function _checkClaimable(bytes32 id, uint256 word, uint256 amount) private view {
        uint256 closesAt = (word >> _CLOSES_AT_SHIFT) & _MASK_40;
        if (closesAt != 0 && block.timestamp >= closesAt) revert ChallengePeriodOver(id, closesAt);
        uint256 deposit = word & _MASK_96;
        if (amount > deposit) revert ChannelAmountTooHigh(amount, deposit);
    }

    /// @dev Records `amount` (> claimed, <= deposit) as claimed and splits the delta; returns (provider share, royalty).
    function _book(bytes32 id, Channel storage ch, uint256 word, ChannelTerms calldata terms, uint256 amount, uint256 claimed)
        private
        returns (uint256 payout, uint256 royalty)
    {
        // amount <= deposit < 2**96, so it fits the claimed field; one write of the whole slot.
        word = (word & ~(_MASK_96 << _CLAIMED_SHIFT)) | (amount << _CLAIMED_SHIFT);
        assembly ("memory-safe") {
            sstore(ch.slot, word)
        }
        // Royalty of the cumulative amount minus royalty of what was claimed before: exact at any claim granularity
        // (rounding down per delta would let many tiny claims pay no royalty at all). claimed < amount < 2**96 and
        // bps <= 10,000, so nothing overflows, floor(a*r) - floor(c*r) >= 0, and it is at most ceil((a-c)*r) <= a-c.
        uint256 bps = _royaltyBpsOf(terms);
        unchecked {
            royalty = amount * bps / RoyaltyMath.BPS - claimed * bps / RoyaltyMath.BPS;
            payout = amount - claimed - royalty;
        }
        emit Claimed(id, _payeeOf(terms), amount, payout, royalty);
    }

    /// @dev Adds a booked claim to the batch, flushing the previous run when its payee, token or model changes.
    function _add(Run memory run, ChannelTerms calldata terms, uint256 payout, uint256 royalty) private {
        address token = _tokenOf(terms);
        address payee = _payeeOf(terms);
        if (token != run.token || payee != run.payee) {
            _flush(run);
            run.token = token;
            run.payee = payee;
        }
        if (royalty != 0) {
            uint256 modelId = _modelIdOf(terms);
            if (modelId != run.modelId || token != run.royaltyToken) {
                _flushRoyalty(run);
                run.modelId = modelId;
                run.royaltyToken = token;
            }
            // Every term is below 2**96 and a batch has far fewer than 2**160 items.
            unchecked {
                run.royalty += royalty;
            }
        }
        unchecked {
            run.payout += payout;
        }
    }

    /// @dev Accrues the pending royalty, then transfers the pending payout (state first, external call last).
    function _flush(Run memory run) private {
        _flushRoyalty(run);
        uint256 payout = run.payout;
        if (payout != 0) {
            run.payout = 0;
            _pay(run.token, run.payee, payout);
        }
    }

    function _flushRoyalty(Run memory run) private {
        uint256 royalty = run.royalty;
        if (royalty != 0) {
            run.royalty = 0;
            _royalties[run.modelId][run.royaltyToken] += royalty;
        }
    }

    function _settle(bytes32 id, Channel storage ch, ChannelTerms calldata terms, uint256 deposit, uint256 claimed, bool cooperative)
        private
    {
        ch.settled = true;
        uint256 refund = deposit - claimed;
        emit ChannelSettled(id, claimed, refund, cooperative);
        if (refund != 0) _pay(terms.token, terms.payer, refund);
    }

    /// @dev Transfers `amount` to `to`, or credits it to `to`'s withdrawable balance when the transfer fails, so a
    /// paused token or a blacklisted or reverting recipient never fails a claim, a batch or a settlement.
    function _pay(address token, address to, uint256 amount) private {
        if (!_tryTransfer(token, to, amount)) {
            _credits[to][token] += amount;
            emit TransferCredited(to, token, amount);
        }
    }

    /// @dev `transfer(to, amount)` that reports failure instead of reverting. Only the first 32 bytes of return data
    /// are copied (a huge revert reason or return value costs the callee, not us). The call gets at most
    /// `_TRANSFER_GAS` (ten times what USDC's proxied transfer needs), so a token or a recipient hook (ERC-777) that
    /// burns all the gas it is given costs a batch at most that much and the credit can still be written.
    /// Success = the call succeeded and returned nothing from a contract, or returned a word equal to 1.
    function _tryTransfer(address token, address to, uint256 amount) private returns (bool ok) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0xa9059cbb00000000000000000000000000000000000000000000000000000000)
            mstore(add(ptr, 0x04), to)
            mstore(add(ptr, 0x24), amount)
            mstore(0x00, 0)
            let g := gas()
            if gt(g, _TRANSFER_GAS) { g := _TRANSFER_GAS }
            ok := call(g, token, 0, ptr, 0x44, 0x00, 0x20)
            switch returndatasize()
            case 0 { ok := and(ok, gt(extcodesize(token), 0)) }
            default { ok := and(ok, and(gt(returndatasize(), 0x1f), eq(mload(0x00), 1))) }
        }
    }

    /// @dev Transfer whose balance change is measured (paths without a gas goal: royalty and credit withdrawals).
    function _sendExact(address token, address to, uint256 amount) private {
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransfer(to, amount);
        uint256 spent = before - IERC20(token).balanceOf(address(this));
        if (spent != amount) revert UnsupportedToken(token, amount, spent);
    }

    /// @dev EIP-712 digest of a (channelId, cumulativeAmount) message of type `typeHash`, hashed in scratch memory.
    function _digest(bytes32 typeHash, bytes32 id, uint256 cumulativeAmount) private view returns (bytes32) {
        bytes32 structHash;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), id)
            mstore(add(ptr, 0x40), cumulativeAmount)
            structHash := keccak256(ptr, 0x60)
        }
        return _hashTypedDataV4(structHash);
    }

    function _checkSignature(bytes32 id, bytes32 digest, address expected, bytes calldata signature) private pure {
        (address recovered,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (recovered != expected || recovered == address(0)) revert InvalidSignature(id, expected, recovered);
    }

    /// @dev Pulls exactly `amount` (a fee-on-transfer token delivers less and is refused) and returns the balance after.
    function _pull(address token, uint256 amount) private returns (uint256 held) {
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        held = IERC20(token).balanceOf(address(this));
        if (held - before != amount) revert UnsupportedToken(token, amount, held - before);
    }

    /// @dev The outgoing side of the token policy, checked once per channel at `open` so claims stay cheap: a
    /// self-transfer of the deposit must leave the balance unchanged. A token that charges its sender a tax (or burns
    /// on transfer) would otherwise let each payout take more than the channel's share out of the pool.
    function _probeOutgoing(address token, uint256 amount, uint256 held) private {
        IERC20(token).safeTransfer(address(this), amount);
        uint256 after_ = IERC20(token).balanceOf(address(this));
        if (after_ != held) revert UnsupportedToken(token, 0, held > after_ ? held - after_ : after_ - held);
    }

    /// @dev Vouchers must be ECDSA signatures of a key. A contract signer (ERC-1271) is refused: `claim` could never
    /// verify it, and a wallet that can revoke signatures later could take back vouchers the provider was paid with.
    /// An EIP-7702 delegated EOA (code = 0xef0100 || address) still signs with its key and is accepted.
    function _requireKeySigner(address signer) private view {
        uint256 size = signer.code.length;
        if (size == 0) return;
        if (size == 23 && bytes3(signer.code) == 0xef0100) return;
        revert SignerIsContract(signer);
    }

    /// @dev A permit that fails (e.g. front-run with the same signature) is ignored; the pull then decides.
    function _permit(address token, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        try IERC20Permit(token).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
    }
}
