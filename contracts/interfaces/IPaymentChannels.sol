// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IPaymentChannels
/// @notice Unidirectional per-inference payment channels from a buyer to one device offering.
/// The buyer deposits once; its signer (a session key) signs EIP-712 vouchers with a growing cumulative
/// amount; anyone may submit vouchers, and the payout goes to the device owner, with the model owner's
/// royalty accrued to the model. A channel's id is the hash of its immutable terms, so claims carry the
/// terms in calldata instead of reading them from storage: one storage slot per channel.
interface IPaymentChannels {
    /// @notice Immutable terms of a channel; channelId = keccak256(abi.encode(terms)).
    struct ChannelTerms {
        /// @notice Buyer: funds the deposit, receives the refund, may close.
        address payer;
        /// @notice Key that signs vouchers (the payer itself or a session key).
        address signer;
        /// @notice Device key of the serving device (signs receipts and cooperative closes).
        address device;
        /// @notice Device owner at open; receives the provider share.
        address payee;
        /// @notice ERC-20 the channel is paid in.
        address token;
        /// @notice Model served.
        uint256 modelId;
        /// @notice Price per inference in token units, snapshotted from the offering at open.
        uint96 price;
        /// @notice Royalty in basis points, snapshotted from the model at open.
        uint16 royaltyBps;
        /// @notice Buyer-chosen value that makes the id unique (and computable before the open is mined).
        uint256 salt;
    }

    /// @notice Mutable state of a channel, one storage slot.
    struct Channel {
        /// @notice Total deposited.
        uint96 deposit;
        /// @notice Cumulative amount already paid out.
        uint96 claimed;
        /// @notice End of the challenge period once a close was requested, else 0.
        uint40 closesAt;
        /// @notice True once the rest was refunded; the channel can never be used again.
        bool settled;
    }

    /// @notice One voucher in a batch claim.
    struct Claim {
        /// @notice Terms of the channel.
        ChannelTerms terms;
        /// @notice Cumulative amount signed by the channel's signer.
        uint256 cumulativeAmount;
        /// @notice EIP-712 Voucher signature.
        bytes signature;
    }

    /// @notice One EIP-3009 authorization of an x402 `exact` payment to an offering's receiver (`exactReceiver`).
    struct ExactAuthorization {
        /// @notice The payer (signer of the authorization).
        address from;
        /// @notice Amount in token units.
        uint256 value;
        /// @notice Valid only after this time (seconds).
        uint256 validAfter;
        /// @notice Valid only before this time (seconds).
        uint256 validBefore;
        /// @notice The payer's random single-use nonce.
        bytes32 nonce;
        /// @notice EIP-712 TransferWithAuthorization signature of `from`.
        bytes signature;
    }

    /// @notice No channel has these terms.
    /// @param channelId The id computed from the terms.
    error ChannelNotFound(bytes32 channelId);
    /// @notice A channel with these terms exists already (pick another salt).
    /// @param channelId The id.
    error ChannelExists(bytes32 channelId);
    /// @notice The channel was settled; it accepts nothing more.
    /// @param channelId The id.
    error ChannelIsSettled(bytes32 channelId);
    /// @notice Only the payer may do this.
    /// @param channelId The id.
    /// @param caller The caller.
    error NotPayer(bytes32 channelId, address caller);
    /// @notice An address in the terms is zero.
    error ZeroAddress();
    /// @notice An amount is zero.
    error ZeroAmount();
    /// @notice The price in the terms is not the device's current offering price.
    /// @param price Price in the terms.
    /// @param offered Current offering price.
    error PriceMismatch(uint256 price, uint256 offered);
    /// @notice The royalty in the terms is not the model's current royalty.
    /// @param royaltyBps Royalty in the terms.
    /// @param current Current model royalty.
    error RoyaltyMismatch(uint16 royaltyBps, uint16 current);
    /// @notice The payee in the terms is not the device owner.
    /// @param payee Payee in the terms.
    /// @param owner Device owner.
    error PayeeMismatch(address payee, address owner);
    /// @notice The deposit would not fit in 96 bits.
    /// @param deposit Current deposit.
    /// @param amount Amount added.
    error DepositOverflow(uint256 deposit, uint256 amount);
    /// @notice The voucher or close signature was not made by the expected key.
    /// @param channelId The channel.
    /// @param expected Key that should have signed.
    /// @param recovered Key that did sign (zero for a malformed signature).
    error InvalidSignature(bytes32 channelId, address expected, address recovered);
    /// @notice The amount is larger than the deposit.
    /// @param amount Cumulative amount.
    /// @param deposit Deposit.
    error ChannelAmountTooHigh(uint256 amount, uint256 deposit);
    /// @notice The voucher pays nothing beyond what was claimed.
    /// @param channelId The channel.
    /// @param amount Cumulative amount of the voucher.
    /// @param claimed Already claimed.
    error NothingToClaim(bytes32 channelId, uint256 amount, uint256 claimed);
    /// @notice The channel is in its challenge period (no top-up, no second close request).
    /// @param channelId The channel.
    /// @param closesAt End of the challenge period.
    error ChannelClosing(bytes32 channelId, uint256 closesAt);
    /// @notice The challenge period is over: no more claims.
    /// @param channelId The channel.
    /// @param closesAt When it ended.
    error ChallengePeriodOver(bytes32 channelId, uint256 closesAt);
    /// @notice The challenge period has not ended yet.
    /// @param channelId The channel.
    /// @param closesAt When it ends.
    error ChallengePeriodActive(bytes32 channelId, uint256 closesAt);
    /// @notice No close was requested.
    /// @param channelId The channel.
    error ChannelNotClosing(bytes32 channelId);
    /// @notice The final amount of a cooperative close is below what was claimed.
    /// @param amount The amount.
    /// @param claimed Already claimed.
    error AmountBelowClaimed(uint256 amount, uint256 claimed);
    /// @notice Only the model's owner may withdraw its royalties.
    /// @param modelId The model.
    /// @param caller The caller.
    error NotRoyaltyOwner(uint256 modelId, address caller);
    /// @notice An empty batch.
    error EmptyBatch();
    /// @notice The challenge period given at deployment is outside [min, max]: 0 would let a payer withdraw in the
    /// block it requested the close, and a huge one would overflow `closesAt`.
    /// @param value The period given.
    /// @param min Smallest period accepted.
    /// @param max Largest period accepted.
    error ChallengePeriodOutOfRange(uint256 value, uint256 min, uint256 max);
    /// @notice The token moved a different amount than asked (fee-on-transfer on the way in, or a sender tax on the
    /// way out): only exact-transfer tokens are supported (README, "Tokens and trust model").
    /// @param token The token.
    /// @param expected The balance change the transfer should have made.
    /// @param actual The balance change it made.
    error UnsupportedToken(address token, uint256 expected, uint256 actual);
    /// @notice The voucher signer is a contract (e.g. an ERC-1271 wallet): its signatures are not ECDSA-recoverable,
    /// and a wallet that could invalidate them later would let the payer take back vouchers it paid with.
    /// @param signer The signer in the terms.
    error SignerIsContract(address signer);
    /// @notice Nothing is credited to the caller in that token.
    /// @param account The caller.
    /// @param token The token.
    error NothingToWithdraw(address account, address token);

    /// @notice A channel was opened.
    /// @param channelId The id (hash of the terms).
    /// @param payer The buyer.
    /// @param device The serving device.
    /// @param terms All terms.
    /// @param deposit The deposit received.
    event ChannelOpened(bytes32 indexed channelId, address indexed payer, address indexed device, ChannelTerms terms, uint256 deposit);
    /// @notice The deposit grew.
    /// @param channelId The channel.
    /// @param amount Amount received.
    /// @param deposit New deposit.
    event ChannelToppedUp(bytes32 indexed channelId, uint256 amount, uint256 deposit);
    /// @notice A voucher was claimed. Amounts are exact: only exact-transfer tokens can be deposited.
    /// @param channelId The channel.
    /// @param payee Who received the provider share.
    /// @param cumulativeAmount New cumulative claimed amount.
    /// @param providerAmount Paid to the payee by this claim (or credited, see `TransferCredited`).
    /// @param royalty Accrued to the model by this claim.
    event Claimed(bytes32 indexed channelId, address indexed payee, uint256 cumulativeAmount, uint256 providerAmount, uint256 royalty);
    /// @notice The payer requested a close; the provider may claim until `closesAt`.
    /// @param channelId The channel.
    /// @param closesAt End of the challenge period.
    event CloseRequested(bytes32 indexed channelId, uint256 closesAt);
    /// @notice The channel was settled and the rest refunded.
    /// @param channelId The channel.
    /// @param claimed Final claimed amount.
    /// @param refund Refunded to the payer.
    /// @param cooperative Whether the provider co-signed the close.
    event ChannelSettled(bytes32 indexed channelId, uint256 claimed, uint256 refund, bool cooperative);
    /// @notice A transfer to `account` failed (token paused, account blacklisted, a recipient that reverts): the
    /// amount was credited to its withdrawable balance instead, so the claim or settlement still went through.
    /// @param account The payee or payer the transfer was for.
    /// @param token The token.
    /// @param amount Amount credited.
    event TransferCredited(address indexed account, address indexed token, uint256 amount);
    /// @notice An account withdrew its credited balance.
    /// @param account The account credited.
    /// @param token The token.
    /// @param to The recipient.
    /// @param amount The amount.
    event CreditWithdrawn(address indexed account, address indexed token, address indexed to, uint256 amount);
    /// @notice An offering's `exact` receiver held nothing to settle (every authorization given was used before and
    /// its money swept already, or none was given).
    /// @param receiver The offering's receiver.
    /// @param token The token.
    error NothingToSettle(address receiver, address token);

    /// @notice x402 `exact` payments to an offering's receiver were settled: royalty accrued, the rest paid out.
    /// @param device The device of the offering.
    /// @param modelId The model of the offering.
    /// @param token The token.
    /// @param payee The device owner paid.
    /// @param amount What the receiver held (payout + royalty).
    /// @param royalty The model owner's share, accrued to `royaltiesOf(modelId, token)`.
    event ExactSettled(address indexed device, uint256 indexed modelId, address indexed token, address payee, uint256 amount, uint256 royalty);

    /// @notice A model owner withdrew royalties.
    /// @param modelId The model.
    /// @param token The token.
    /// @param to The recipient.
    /// @param amount The amount.
    event RoyaltiesWithdrawn(uint256 indexed modelId, address indexed token, address indexed to, uint256 amount);

    /// @notice Opens a channel with `deposit` pulled from the caller, who must be `terms.payer`.
    function open(ChannelTerms calldata terms, uint96 deposit) external returns (bytes32 channelId);
    /// @notice `open` after an EIP-2612 permit (a front-run permit does not make it fail).
    function openWithPermit(ChannelTerms calldata terms, uint96 deposit, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (bytes32 channelId);
    /// @notice Adds `amount` pulled from the caller to an open channel's deposit.
    function topUp(ChannelTerms calldata terms, uint96 amount) external;
    /// @notice `topUp` after an EIP-2612 permit.
    function topUpWithPermit(ChannelTerms calldata terms, uint96 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external;
    /// @notice Pays out a voucher: the delta since the last claim, royalty accrued to the model, rest to the payee.
    function claim(ChannelTerms calldata terms, uint256 cumulativeAmount, bytes calldata signature) external;
    /// @notice Claims many vouchers in one transaction; payouts to the same payee and token are summed into one
    /// transfer. Vouchers at or below the claimed amount are skipped (they were claimed already).
    function claimMany(Claim[] calldata claims) external;
    /// @notice Starts the challenge period (payer only).
    function requestClose(ChannelTerms calldata terms) external;
    /// @notice Refunds the unclaimed deposit to the payer after the challenge period.
    function withdraw(ChannelTerms calldata terms) external;
    /// @notice Settles at once at `cumulativeAmount` signed by the device (payer only).
    function closeCooperatively(ChannelTerms calldata terms, uint256 cumulativeAmount, bytes calldata deviceSignature)
        external;
    /// @notice Settles x402 `exact` payments to the offering (device, modelId, token): deploys its receiver if needed,
    /// submits each authorization whose nonce is still unused (one a front-runner submitted already has paid the
    /// receiver and is skipped), then splits everything the receiver holds: royalty (model's current royaltyBps)
    /// accrued to the model, the rest to the device owner. Anyone may call it; the money can only go there.
    /// @return amount What was split.
    function settleExact(address device, uint256 modelId, address token, ExactAuthorization[] calldata auths)
        external
        returns (uint256 amount);
    /// @notice Sends a model's accrued royalties in `token` to `to` (model owner only).
    function withdrawRoyalties(uint256 modelId, address token, address to) external;
    /// @notice Sends the caller's credited balance in `token` (payouts or refunds whose transfer failed) to `to`.
    function withdrawCredit(address token, address to) external;

    /// @notice Id of a channel with these terms.
    function channelId(ChannelTerms calldata terms) external pure returns (bytes32);
    /// @notice State of a channel (all zero for an unknown id).
    function getChannel(bytes32 channelId) external view returns (Channel memory);
    /// @notice Royalties accrued and not yet withdrawn.
    function royaltiesOf(uint256 modelId, address token) external view returns (uint256);
    /// @notice Balance credited to `account` in `token` because a transfer to it failed; see `withdrawCredit`.
    function creditOf(address account, address token) external view returns (uint256);
    /// @notice The `payTo` of x402 `exact` payments for (device, modelId, token): a CREATE2 clone address,
    /// deployed by the first `settleExact` of the offering.
    function exactReceiver(address device, uint256 modelId, address token) external view returns (address);
    /// @notice EIP-712 digest of a voucher.
    function voucherDigest(bytes32 channelId, uint256 cumulativeAmount) external view returns (bytes32);
    /// @notice EIP-712 digest of a cooperative close.
    function closeDigest(bytes32 channelId, uint256 cumulativeAmount) external view returns (bytes32);
    /// @notice Length of the challenge period in seconds, fixed at deploy within [60 s, 30 days].
    function challengePeriod() external view returns (uint40);
}
