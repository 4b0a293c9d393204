// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {IDeviceRegistry} from "./interfaces/IDeviceRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {RoyaltyMath} from "./libraries/RoyaltyMath.sol";

/// @title PaymentChannels
/// @notice Per-inference payment channels with EIP-712 cumulative vouchers, batch claims and on-chain royalties.
contract PaymentChannels is IPaymentChannels, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type of a buyer's voucher.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 channelId,uint256 cumulativeAmount)");
    /// @notice EIP-712 type of a device's consent to a cooperative close.
    bytes32 public constant CLOSE_TYPEHASH = keccak256("CloseChannel(bytes32 channelId,uint256 cumulativeAmount)");

    IDeviceRegistry public immutable deviceRegistry;
    IModelRegistry public immutable modelRegistry;
    /// @inheritdoc IPaymentChannels
    uint40 public immutable challengePeriod;

    mapping(bytes32 channelId => Channel) private _channels;
    mapping(uint256 modelId => mapping(address token => uint256)) private _royalties;

    constructor(IDeviceRegistry deviceRegistry_, IModelRegistry modelRegistry_, uint40 challengePeriod_)
        EIP712("Edgepay PaymentChannels", "1")
    {
        if (address(deviceRegistry_) == address(0) || address(modelRegistry_) == address(0)) revert ZeroAddress();
        deviceRegistry = deviceRegistry_;
        modelRegistry = modelRegistry_;
        challengePeriod = challengePeriod_;
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
        (bytes32 id, Channel memory c) = _load(terms);
        if (cumulativeAmount <= c.claimed) revert NothingToClaim(id, cumulativeAmount, c.claimed);
        uint256 payout = _claim(id, c, terms, cumulativeAmount, signature);
        if (payout != 0) IERC20(terms.token).safeTransfer(terms.payee, payout);
    }

    /// @inheritdoc IPaymentChannels
    function claimMany(Claim[] calldata claims) external nonReentrant {
        uint256 n = claims.length;
        if (n == 0) revert EmptyBatch();
        address token = claims[0].terms.token;
        address payee = claims[0].terms.payee;
        uint256 pending;
        for (uint256 i; i < n; ++i) {
            Claim calldata item = claims[i];
            ChannelTerms calldata terms = item.terms;
            (bytes32 id, Channel memory c) = _load(terms);
            // Already claimed (e.g. by a watchtower or an earlier batch): skipping keeps the rest of the batch alive.
            if (item.cumulativeAmount <= c.claimed) continue;
            if (terms.token != token || terms.payee != payee) {
                // Payouts are summed per (token, payee) run; flush when the run changes.
                if (pending != 0) IERC20(token).safeTransfer(payee, pending);
                token = terms.token;
                payee = terms.payee;
                pending = 0;
            }
            pending += _claim(id, c, terms, item.cumulativeAmount, item.signature);
        }
        if (pending != 0) IERC20(token).safeTransfer(payee, pending);
    }

    // ---------------------------------------------------------------- close

    /// @inheritdoc IPaymentChannels
    function requestClose(ChannelTerms calldata terms) external {
        (bytes32 id, Channel memory c) = _load(terms);
        if (msg.sender != terms.payer) revert NotPayer(id, msg.sender);
        if (c.closesAt != 0) revert ChannelClosing(id, c.closesAt);
        uint40 closesAt = uint40(block.timestamp) + challengePeriod;
        _channels[id].closesAt = closesAt;
        emit CloseRequested(id, closesAt);
    }

    /// @inheritdoc IPaymentChannels
    function withdraw(ChannelTerms calldata terms) external nonReentrant {
        (bytes32 id, Channel memory c) = _load(terms);
        if (c.closesAt == 0) revert ChannelNotClosing(id);
        if (block.timestamp < c.closesAt) revert ChallengePeriodActive(id, c.closesAt);
        _settle(id, terms, c.deposit, c.claimed, false);
    }

    /// @inheritdoc IPaymentChannels
    function closeCooperatively(ChannelTerms calldata terms, uint256 cumulativeAmount, bytes calldata deviceSignature)
        external
        nonReentrant
    {
        (bytes32 id, Channel memory c) = _load(terms);
        if (msg.sender != terms.payer) revert NotPayer(id, msg.sender);
        if (cumulativeAmount > c.deposit) revert ChannelAmountTooHigh(cumulativeAmount, c.deposit);
        if (cumulativeAmount < c.claimed) revert AmountBelowClaimed(cumulativeAmount, c.claimed);
        _checkSignature(id, _hashTypedDataV4(keccak256(abi.encode(CLOSE_TYPEHASH, id, cumulativeAmount))), terms.device, deviceSignature);
        uint256 delta = cumulativeAmount - c.claimed;
        if (delta != 0) {
            uint256 payout = _book(id, terms, cumulativeAmount, delta);
            if (payout != 0) IERC20(terms.token).safeTransfer(terms.payee, payout);
        }
        _settle(id, terms, c.deposit, cumulativeAmount, true);
    }

    /// @inheritdoc IPaymentChannels
    function withdrawRoyalties(uint256 modelId, address token, address to) external nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        if (modelRegistry.getModel(modelId).owner != msg.sender) revert NotRoyaltyOwner(modelId, msg.sender);
        uint256 amount = _royalties[modelId][token];
        if (amount == 0) revert ZeroAmount();
        _royalties[modelId][token] = 0;
        emit RoyaltiesWithdrawn(modelId, token, to, amount);
        IERC20(token).safeTransfer(to, amount);
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
    function voucherDigest(bytes32 id, uint256 cumulativeAmount) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, id, cumulativeAmount)));
    }

    /// @inheritdoc IPaymentChannels
    function closeDigest(bytes32 id, uint256 cumulativeAmount) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CLOSE_TYPEHASH, id, cumulativeAmount)));
    }

    // ---------------------------------------------------------------- internals

    function _open(ChannelTerms calldata terms, uint96 deposit) private returns (bytes32 id) {
        id = channelId(terms);
        if (msg.sender != terms.payer) revert NotPayer(id, msg.sender);
        if (terms.signer == address(0) || terms.token == address(0)) revert ZeroAddress();
        if (deposit == 0) revert ZeroAmount();
        Channel storage ch = _channels[id];
        if (ch.deposit != 0 || ch.settled) revert ChannelExists(id);

        (address owner, uint96 price) = deviceRegistry.channelTerms(terms.device, terms.modelId, terms.token);
        if (terms.price != price) revert PriceMismatch(terms.price, price);
        if (terms.payee != owner) revert PayeeMismatch(terms.payee, owner);
        (, uint16 royaltyBps) = modelRegistry.channelTerms(terms.modelId);
        if (terms.royaltyBps != royaltyBps) revert RoyaltyMismatch(terms.royaltyBps, royaltyBps);

        uint256 received = _pull(terms.token, deposit);
        if (received == 0) revert ZeroAmount();
        if (received > type(uint96).max) revert DepositOverflow(0, received);
        ch.deposit = uint96(received);
        emit ChannelOpened(id, terms.payer, terms.device, terms, received);
    }

    function _topUp(ChannelTerms calldata terms, uint96 amount) private {
        (bytes32 id, Channel memory c) = _load(terms);
        if (amount == 0) revert ZeroAmount();
        if (c.closesAt != 0) revert ChannelClosing(id, c.closesAt);
        uint256 received = _pull(terms.token, amount);
        uint256 deposit = uint256(c.deposit) + received;
        if (deposit > type(uint96).max) revert DepositOverflow(c.deposit, received);
        _channels[id].deposit = uint96(deposit);
        emit ChannelToppedUp(id, received, deposit);
    }

    /// @dev Loads a live channel: exists, not settled. Claims are also refused once the challenge period is over.
    function _load(ChannelTerms calldata terms) private view returns (bytes32 id, Channel memory c) {
        id = channelId(terms);
        c = _channels[id];
        if (c.settled) revert ChannelIsSettled(id);
        if (c.deposit == 0) revert ChannelNotFound(id);
    }

    /// @dev Verifies and books a voucher above the claimed amount; returns the provider share to transfer.
    function _claim(
        bytes32 id,
        Channel memory c,
        ChannelTerms calldata terms,
        uint256 cumulativeAmount,
        bytes calldata signature
    ) private returns (uint256) {
        if (c.closesAt != 0 && block.timestamp >= c.closesAt) revert ChallengePeriodOver(id, c.closesAt);
        if (cumulativeAmount > c.deposit) revert ChannelAmountTooHigh(cumulativeAmount, c.deposit);
        _checkSignature(id, _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, id, cumulativeAmount))), terms.signer, signature);
        return _book(id, terms, cumulativeAmount, cumulativeAmount - c.claimed);
    }

    /// @dev Records `cumulativeAmount` as claimed and splits `delta`; returns the provider share.
    function _book(bytes32 id, ChannelTerms calldata terms, uint256 cumulativeAmount, uint256 delta)
        private
        returns (uint256 payout)
    {
        _channels[id].claimed = uint96(cumulativeAmount);
        uint256 royalty = RoyaltyMath.royalty(delta, terms.royaltyBps);
        if (royalty != 0) _royalties[terms.modelId][terms.token] += royalty;
        payout = delta - royalty;
        emit Claimed(id, terms.payee, cumulativeAmount, payout, royalty);
    }

    function _settle(bytes32 id, ChannelTerms calldata terms, uint96 deposit, uint256 claimed, bool cooperative) private {
        Channel storage ch = _channels[id];
        ch.settled = true;
        uint256 refund = deposit - claimed;
        emit ChannelSettled(id, claimed, refund, cooperative);
        if (refund != 0) IERC20(terms.token).safeTransfer(terms.payer, refund);
    }

    function _checkSignature(bytes32 id, bytes32 digest, address expected, bytes calldata signature) private pure {
        (address recovered,,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (recovered != expected || recovered == address(0)) revert InvalidSignature(id, expected, recovered);
    }

    /// @dev Pulls `amount` and returns what actually arrived, so fee-on-transfer tokens cannot over-credit a deposit.
    function _pull(address token, uint256 amount) private returns (uint256) {
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        return IERC20(token).balanceOf(address(this)) - before;
    }

    /// @dev A permit that fails (e.g. front-run with the same signature) is ignored; the pull then decides.
    function _permit(address token, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        try IERC20Permit(token).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
    }
}
