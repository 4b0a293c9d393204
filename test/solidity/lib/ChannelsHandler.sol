// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IPaymentChannels} from "../../../contracts/interfaces/IPaymentChannels.sol";
import {Marketplace} from "./Marketplace.sol";
import {Assertions} from "./Assertions.sol";
import {vm} from "./Vm.sol";

/// @notice Drives PaymentChannels through bounded random actions for the invariant suite. Every action computes
/// the outcome it expects from its own model of each channel (deposit, claimed, closesAt, settled) first: the
/// exact revert data, or the exact amounts each party receives. It then calls the contract and fails on any
/// difference. Ghost totals feed the invariants in PaymentChannels.invariant.t.sol.
contract ChannelsHandler is Marketplace, Assertions {
    struct Chan {
        IPaymentChannels.ChannelTerms terms;
        bytes32 id;
        uint256 signerPk;
        uint256 devicePk;
        // The model of the on-chain state.
        uint256 deposit;
        uint256 claimed;
        uint256 closesAt;
        bool settled;
        // Split of everything claimed so far, and the refund once settled.
        uint256 paidProvider;
        uint256 paidRoyalty;
        uint256 refunded;
        // Largest voucher the signer issued that the deposit covered (deposits only grow, so it stays valid).
        uint256 bestVoucher;
        // What the provider claimed with its best voucher inside the challenge period (a diligent provider).
        uint256 defendedAmount;
    }

    uint256 internal constant MAX_CHANNELS = 16;
    uint256 internal constant PAYERS = 3;
    uint256 internal constant PROVIDERS = 2;
    uint256 internal constant MODELS = 3;

    Chan[] internal chans;
    address[PAYERS] public payers;
    uint256[PAYERS] internal sessionKeys;
    address[PROVIDERS] public providers;
    uint256[PROVIDERS] internal deviceKeys;
    address[PROVIDERS] internal deviceAddrs;
    uint256[MODELS] public modelIds;
    uint16[MODELS] internal modelBps;
    address[MODELS] public modelOwners;
    uint96[PROVIDERS] internal prices;
    /// @dev Where tokens minted for a call that was expected to revert go, so actors' balances stay exact.
    address internal constant SINK = address(0x51AC);

    uint256 public now_;
    uint256 internal salt;

    // Ghost totals.
    uint256 public deposited;
    uint256 public paidToProviders;
    uint256 public royaltiesAccrued;
    uint256 public royaltiesWithdrawn;
    uint256 public refunded;
    mapping(address => uint256) public expectedBalance;
    mapping(uint256 modelId => uint256) public expectedRoyalties;

    // What was seen on-chain after the previous action, for monotonicity and "settled stays settled".
    mapping(bytes32 => uint256) internal lastClaimed;
    mapping(bytes32 => bool) internal lastSettled;

    /// @notice How often each outcome happened (keccak of a label => count), so a test can prove coverage.
    mapping(bytes32 => uint256) public outcomes;

    constructor() {
        _deployMarketplace();
        now_ = block.timestamp;
        for (uint256 i; i < PAYERS; ++i) {
            payers[i] = vm.addr(0xA11CE0 + i);
            sessionKeys[i] = 0x5E5510 + i;
        }
        for (uint256 i; i < 2; ++i) modelOwners[i] = vm.addr(0x0DE10 + i);
        modelOwners[2] = modelOwners[1];
        modelBps[0] = 0;
        modelBps[1] = 777;
        modelBps[2] = 5_000;
        for (uint256 m; m < MODELS; ++m) modelIds[m] = _publish(modelOwners[m], modelBps[m]);
        prices[0] = 1_000;
        prices[1] = 7;
        for (uint256 p; p < PROVIDERS; ++p) {
            providers[p] = vm.addr(0xB0B0 + p);
            deviceKeys[p] = 0xDE71CE + p;
            deviceAddrs[p] = _registerDevice(providers[p], deviceKeys[p]);
            for (uint256 m; m < MODELS; ++m) _offer(providers[p], deviceAddrs[p], modelIds[m], prices[p]);
        }
    }

    // ---------------------------------------------------------------- actions

    function open(uint256 payerSeed, uint256 providerSeed, uint256 modelSeed, uint256 depositSeed) external {
        _sync();
        if (chans.length >= MAX_CHANNELS) return;
        uint256 p = providerSeed % PROVIDERS;
        uint256 m = modelSeed % MODELS;
        uint256 b = payerSeed % PAYERS;
        uint96 deposit = uint96(_amount(depositSeed, 95));
        IPaymentChannels.ChannelTerms memory terms = _terms(
            payers[b], vm.addr(sessionKeys[b]), deviceAddrs[p], providers[p], modelIds[m], prices[p], modelBps[m], ++salt
        );
        bytes32 id = _open(terms, deposit);
        assertEq(id, _idOf(terms), "open returns keccak256(abi.encode(terms))");
        Chan storage c = chans.push();
        c.terms = terms;
        c.id = id;
        c.signerPk = sessionKeys[b];
        c.devicePk = deviceKeys[p];
        c.deposit = deposit;
        deposited += deposit;
        _count("open.ok");
        _afterAction();
    }

    function topUp(uint256 chanSeed, uint256 amountSeed) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        uint256 amount = _amount(amountSeed, 96);
        bytes memory expected;
        if (c.settled) expected = abi.encodeWithSelector(IPaymentChannels.ChannelIsSettled.selector, c.id);
        else if (c.closesAt != 0) expected = abi.encodeWithSelector(IPaymentChannels.ChannelClosing.selector, c.id, c.closesAt);
        else if (c.deposit + amount > type(uint96).max) {
            expected = abi.encodeWithSelector(IPaymentChannels.DepositOverflow.selector, c.deposit, amount);
        }
        address payer = c.terms.payer;
        token.mint(payer, amount);
        vm.prank(payer);
        token.approve(address(channels), amount);
        vm.prank(payer);
        try channels.topUp(c.terms, uint96(amount)) {
            assertEq(expected, "", "topUp succeeded where the model expected a revert");
            c.deposit += amount;
            deposited += amount;
            _count("topUp.ok");
        } catch (bytes memory err) {
            assertEq(err, expected, "topUp revert data");
            vm.prank(payer);
            token.transfer(SINK, amount);
            _count("topUp.revert");
        }
        _afterAction();
    }

    /// @param mode Low byte picks the amount (0: a new voucher above claimed, 1: an old or the same voucher again,
    /// i.e. a double claim, 2: above the deposit, 3: anything up to twice the deposit); the next byte the
    /// signature (below 5: the signer's voucher, 5: another key, 6: another channel, 7: another verifying contract).
    function claim(uint256 chanSeed, uint256 amountSeed, uint16 mode, address caller) external {
        _sync();
        if (chans.length == 0) return;
        uint256 index = chanSeed % chans.length;
        Chan storage c = chans[index];
        uint256 amount = _voucherAmount(c, amountSeed, uint8(mode));
        bytes memory sig = _signVoucher(c, index, amount, uint8(mode >> 8));
        bytes memory expected = _expectClaim(c, amount, c.claimed, sig);

        (uint256 payout, uint256 royalty) = _split(c, amount);
        uint256 payeeBefore = token.balanceOf(c.terms.payee);
        uint256 royaltyBefore = channels.royaltiesOf(c.terms.modelId, address(token));
        vm.prank(caller);
        try channels.claim(c.terms, amount, sig) {
            assertEq(expected, "", "claim succeeded where the model expected a revert");
            assertEq(token.balanceOf(c.terms.payee) - payeeBefore, payout, "claim pays the payee delta - royalty");
            assertEq(channels.royaltiesOf(c.terms.modelId, address(token)) - royaltyBefore, royalty, "claim accrues the royalty");
            _book(c, amount, payout, royalty);
            _count("claim.ok");
        } catch (bytes memory err) {
            assertEq(err, expected, "claim revert data");
            _count(string.concat("claim.revert.", _errorName(bytes4(err))));
        }
        _afterAction();
    }

    /// @notice A batch of up to 6 vouchers over random channels (repeats allowed, so the same voucher may appear
    /// twice); the whole batch reverts with the first failing item's error, and items at or below the claimed
    /// amount are skipped.
    function claimMany(uint256 seed, uint8 count, address caller) external {
        _sync();
        if (chans.length == 0) return;
        uint256 n = 1 + count % 6;
        IPaymentChannels.Claim[] memory items = new IPaymentChannels.Claim[](n);
        uint256[] memory idx = new uint256[](n);
        uint256[] memory sim = new uint256[](chans.length);
        for (uint256 k; k < chans.length; ++k) sim[k] = chans[k].claimed;
        bytes memory expected;
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            idx[i] = r % chans.length;
            Chan storage c = chans[idx[i]];
            uint256 amount = _voucherAmount(c, r >> 8, uint8(r >> 128) % 4 == 2 ? 3 : uint8(r >> 128) % 4);
            bytes memory sig = _signVoucher(c, idx[i], amount, uint8(r >> 136) % 16 == 0 ? 5 : 0);
            items[i] = IPaymentChannels.Claim({terms: c.terms, cumulativeAmount: amount, signature: sig});
            if (expected.length != 0) continue;
            bytes memory err = _expectClaim(c, amount, sim[idx[i]], sig);
            if (err.length == 0) sim[idx[i]] = amount;
            else if (bytes4(err) != IPaymentChannels.NothingToClaim.selector) expected = err;
        }

        uint256[PROVIDERS] memory before;
        for (uint256 p; p < PROVIDERS; ++p) before[p] = token.balanceOf(providers[p]);
        vm.prank(caller);
        try channels.claimMany(items) {
            assertEq(expected, "", "claimMany succeeded where the model expected a revert");
            uint256[PROVIDERS] memory gained;
            for (uint256 i; i < n; ++i) {
                Chan storage c = chans[idx[i]];
                uint256 amount = items[i].cumulativeAmount;
                if (amount <= c.claimed) continue; // skipped: at or below what was already claimed
                (uint256 payout, uint256 royalty) = _split(c, amount);
                _book(c, amount, payout, royalty);
                gained[c.terms.payee == providers[0] ? 0 : 1] += payout;
            }
            for (uint256 p; p < PROVIDERS; ++p) {
                assertEq(token.balanceOf(providers[p]) - before[p], gained[p], "claimMany pays each payee its sum");
            }
            _count("claimMany.ok");
        } catch (bytes memory err) {
            assertEq(err, expected, "claimMany revert data");
            _count("claimMany.revert");
        }
        _afterAction();
    }

    function requestClose(uint256 chanSeed, bool asPayer, address other) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        address caller = asPayer ? c.terms.payer : other;
        bytes memory expected;
        if (c.settled) expected = abi.encodeWithSelector(IPaymentChannels.ChannelIsSettled.selector, c.id);
        else if (caller != c.terms.payer) expected = abi.encodeWithSelector(IPaymentChannels.NotPayer.selector, c.id, caller);
        else if (c.closesAt != 0) expected = abi.encodeWithSelector(IPaymentChannels.ChannelClosing.selector, c.id, c.closesAt);
        vm.prank(caller);
        try channels.requestClose(c.terms) {
            assertEq(expected, "", "requestClose succeeded where the model expected a revert");
            c.closesAt = now_ + CHALLENGE_PERIOD;
            _count("requestClose.ok");
        } catch (bytes memory err) {
            assertEq(err, expected, "requestClose revert data");
            _count("requestClose.revert");
        }
        _afterAction();
    }

    /// @notice Moves time forward. A diligent provider first claims its best voucher on every channel whose
    /// challenge period would end in the jump.
    function warp(uint256 secondsSeed, bool diligent) external {
        _sync();
        uint256 jump = secondsSeed % (3 * uint256(CHALLENGE_PERIOD));
        if (diligent) {
            for (uint256 i; i < chans.length; ++i) {
                Chan storage c = chans[i];
                if (!c.settled && c.closesAt != 0 && now_ < c.closesAt && c.closesAt <= now_ + jump) _defend(c);
            }
        }
        now_ += jump;
        vm.warp(now_);
        _afterAction();
    }

    /// @notice The provider claims its best voucher while the channel is closing: must always pay in full.
    function defend(uint256 chanSeed) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        if (c.settled || c.closesAt == 0 || now_ >= c.closesAt) return;
        _defend(c);
        _afterAction();
    }

    function withdraw(uint256 chanSeed, address caller) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        bytes memory expected;
        if (c.settled) expected = abi.encodeWithSelector(IPaymentChannels.ChannelIsSettled.selector, c.id);
        else if (c.closesAt == 0) expected = abi.encodeWithSelector(IPaymentChannels.ChannelNotClosing.selector, c.id);
        else if (now_ < c.closesAt) expected = abi.encodeWithSelector(IPaymentChannels.ChallengePeriodActive.selector, c.id, c.closesAt);
        uint256 payerBefore = token.balanceOf(c.terms.payer);
        vm.prank(caller);
        try channels.withdraw(c.terms) {
            assertEq(expected, "", "withdraw succeeded where the model expected a revert");
            uint256 refund = c.deposit - c.claimed;
            assertEq(token.balanceOf(c.terms.payer) - payerBefore, refund, "withdraw refunds exactly deposit - claimed");
            // What a diligent provider claimed inside the challenge period is never taken back.
            assertGe(c.claimed, c.defendedAmount, "a voucher claimed in the challenge period survives the close");
            _settle(c, refund);
            _count("withdraw.ok");
        } catch (bytes memory err) {
            assertEq(err, expected, "withdraw revert data");
            _count("withdraw.revert");
        }
        _afterAction();
    }

    /// @param mode Low 2 bits pick the amount (0-1: between claimed and deposit, 2: below claimed, 3: above the
    /// deposit); bit 2 set: signed by the wrong key; bit 3 set: called by `other` instead of the payer.
    function closeCooperatively(uint256 chanSeed, uint256 amountSeed, uint8 mode, address other) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        uint256 amount = _closeAmount(c, amountSeed, mode);
        bytes memory sig = _closeSig(mode & 4 == 0 ? c.devicePk : c.signerPk, c.id, amount);
        address caller = mode & 8 == 0 ? c.terms.payer : other;
        bytes memory expected = _expectClose(c, caller, amount, sig);

        (uint256 payout, uint256 royalty) = _split(c, amount);
        uint256 payeeBefore = token.balanceOf(c.terms.payee);
        uint256 payerBefore = token.balanceOf(c.terms.payer);
        vm.prank(caller);
        try channels.closeCooperatively(c.terms, amount, sig) {
            assertEq(expected, "", "closeCooperatively succeeded where the model expected a revert");
            assertEq(token.balanceOf(c.terms.payee) - payeeBefore, payout, "close pays the last delta - royalty");
            uint256 refund = c.deposit - amount;
            assertEq(token.balanceOf(c.terms.payer) - payerBefore, refund, "close refunds deposit - final amount");
            if (amount > c.claimed) _book(c, amount, payout, royalty);
            _settle(c, refund);
            _count("closeCooperatively.ok");
        } catch (bytes memory err) {
            assertEq(err, expected, "closeCooperatively revert data");
            _count("closeCooperatively.revert");
        }
        _afterAction();
    }

    function withdrawRoyalties(uint256 modelSeed, bool asOwner, address other) external {
        _sync();
        uint256 m = modelSeed % MODELS;
        uint256 modelId = modelIds[m];
        address owner = modelOwners[m];
        address caller = asOwner ? owner : other;
        uint256 amount = expectedRoyalties[modelId];
        bytes memory expected;
        if (caller != owner) expected = abi.encodeWithSelector(IPaymentChannels.NotRoyaltyOwner.selector, modelId, caller);
        else if (amount == 0) expected = abi.encodeWithSelector(IPaymentChannels.ZeroAmount.selector);
        uint256 before = token.balanceOf(owner);
        vm.prank(caller);
        try channels.withdrawRoyalties(modelId, address(token), owner) {
            assertEq(expected, "", "withdrawRoyalties succeeded where the model expected a revert");
            assertEq(token.balanceOf(owner) - before, amount, "owner receives all accrued royalties");
            expectedRoyalties[modelId] = 0;
            royaltiesWithdrawn += amount;
            expectedBalance[owner] += amount;
            _count("withdrawRoyalties.ok");
        } catch (bytes memory err) {
            assertEq(err, expected, "withdrawRoyalties revert data");
            _count("withdrawRoyalties.revert");
        }
        _afterAction();
    }

    // ---------------------------------------------------------------- views for the invariants

    function channelCount() external view returns (uint256) {
        return chans.length;
    }

    /// @notice Sum over unsettled channels of deposit - claimed, read from the contract.
    function lockedOnChain() public view returns (uint256 locked) {
        for (uint256 i; i < chans.length; ++i) {
            IPaymentChannels.Channel memory ch = channels.getChannel(chans[i].id);
            if (!ch.settled) locked += ch.deposit - ch.claimed;
        }
    }

    function royaltiesOnChain() public view returns (uint256 sum) {
        for (uint256 m; m < MODELS; ++m) sum += channels.royaltiesOf(modelIds[m], address(token));
    }

    /// @notice Every token an actor holds came out of PaymentChannels (payers and providers start at zero).
    function heldByActors() public view returns (uint256 sum) {
        for (uint256 i; i < PAYERS; ++i) sum += token.balanceOf(payers[i]);
        for (uint256 i; i < PROVIDERS; ++i) sum += token.balanceOf(providers[i]);
        sum += token.balanceOf(modelOwners[0]) + token.balanceOf(modelOwners[1]);
    }

    function assertBalanceIsLiabilities() external view {
        assertEq(token.balanceOf(address(channels)), lockedOnChain() + royaltiesOnChain(), "PaymentChannels balance == open liabilities");
    }

    function assertTokensInEqualTokensOut() external view {
        uint256 locked = lockedOnChain();
        assertEq(deposited, heldByActors() + royaltiesOnChain() + locked, "deposits == paid + royalties + refunds + locked (balances)");
        assertEq(deposited, paidToProviders + royaltiesAccrued + refunded + locked, "deposits == paid + royalties + refunds + locked (ghosts)");
        assertEq(royaltiesAccrued, royaltiesOnChain() + royaltiesWithdrawn, "royalties accrued == unwithdrawn + withdrawn");
    }

    function assertActorsGotExactly() external view {
        for (uint256 i; i < PAYERS; ++i) assertEq(token.balanceOf(payers[i]), expectedBalance[payers[i]], "payer holds its refunds");
        for (uint256 i; i < PROVIDERS; ++i) {
            assertEq(token.balanceOf(providers[i]), expectedBalance[providers[i]], "provider holds its payouts");
        }
        for (uint256 m; m < MODELS; ++m) {
            assertEq(channels.royaltiesOf(modelIds[m], address(token)), expectedRoyalties[modelIds[m]], "royaltiesOf matches the model");
        }
        assertEq(token.balanceOf(modelOwners[0]), expectedBalance[modelOwners[0]], "model owner 0 holds its withdrawals");
        assertEq(token.balanceOf(modelOwners[1]), expectedBalance[modelOwners[1]], "model owner 1 holds its withdrawals");
    }

    function assertChannelsMatchModel() external view {
        for (uint256 i; i < chans.length; ++i) {
            Chan storage c = chans[i];
            IPaymentChannels.Channel memory ch = channels.getChannel(c.id);
            assertEq(ch.deposit, c.deposit, "deposit");
            assertEq(ch.claimed, c.claimed, "claimed");
            assertEq(ch.closesAt, c.closesAt, "closesAt");
            assertTrue(ch.settled == c.settled, "settled");
            assertLe(ch.claimed, ch.deposit, "claimed <= deposit");
            assertEq(c.paidProvider + c.paidRoyalty, c.claimed, "provider + royalty == claimed, per channel");
            if (c.settled) assertEq(c.claimed + c.refunded, c.deposit, "claimed + refund == deposit once settled");
        }
    }

    // ---------------------------------------------------------------- internals

    /// @dev Each call is its own transaction for the fuzzer; pin the time this handler believes in.
    function _sync() internal {
        vm.warp(now_);
    }

    function _errorName(bytes4 selector) internal pure returns (string memory) {
        if (selector == IPaymentChannels.ChannelIsSettled.selector) return "ChannelIsSettled";
        if (selector == IPaymentChannels.NothingToClaim.selector) return "NothingToClaim";
        if (selector == IPaymentChannels.ChallengePeriodOver.selector) return "ChallengePeriodOver";
        if (selector == IPaymentChannels.ChannelAmountTooHigh.selector) return "ChannelAmountTooHigh";
        if (selector == IPaymentChannels.InvalidSignature.selector) return "InvalidSignature";
        return "other";
    }

    function _count(string memory label) internal {
        outcomes[keccak256(bytes(label))] += 1;
    }

    /// @dev After every action: claimed never decreases and settled never reverts to unsettled, on-chain.
    function _afterAction() internal {
        for (uint256 i; i < chans.length; ++i) {
            bytes32 id = chans[i].id;
            IPaymentChannels.Channel memory ch = channels.getChannel(id);
            assertGe(ch.claimed, lastClaimed[id], "claimed is monotonic");
            if (lastSettled[id]) assertTrue(ch.settled, "a settled channel stays settled");
            lastClaimed[id] = ch.claimed;
            lastSettled[id] = ch.settled;
        }
    }

    function _voucherAmount(Chan storage c, uint256 seed, uint8 mode) internal view returns (uint256) {
        mode %= 4;
        if (mode == 0 && c.claimed < c.deposit) return _bound(seed, c.claimed + 1, c.deposit);
        if (mode == 1) return _bound(seed, 0, c.claimed);
        if (mode == 2) return c.deposit + _bound(seed, 1, 1_000);
        return _bound(seed, 0, 2 * c.deposit);
    }

    function _closeAmount(Chan storage c, uint256 seed, uint8 mode) internal view returns (uint256) {
        mode %= 4;
        if (mode == 2 && c.claimed > 0) return _bound(seed, 0, c.claimed - 1);
        if (mode == 3) return c.deposit + _bound(seed, 1, 1_000);
        return _bound(seed, c.claimed, c.deposit);
    }

    function _signVoucher(Chan storage c, uint256 index, uint256 amount, uint8 mode) internal returns (bytes memory) {
        mode %= 8;
        if (mode == 5) return _voucher(c.devicePk, c.id, amount);
        if (mode == 6) {
            // The same signer's voucher for another of its channels (or for a made-up id if it has none).
            bytes32 otherId = keccak256(abi.encode(c.id));
            for (uint256 k = 1; k < chans.length; ++k) {
                Chan storage o = chans[(index + k) % chans.length];
                if (o.signerPk == c.signerPk) {
                    otherId = o.id;
                    break;
                }
            }
            return _voucher(c.signerPk, otherId, amount);
        }
        if (mode == 7) {
            bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, c.id, amount));
            return _sign(c.signerPk, _typedDigest(structHash, "Edgepay PaymentChannels", address(devices), block.chainid));
        }
        if (amount <= c.deposit && amount > c.bestVoucher) c.bestVoucher = amount;
        return _voucher(c.signerPk, c.id, amount);
    }

    /// @dev The revert data claim() must produce for this voucher, or empty for success (order as in the contract).
    function _expectClaim(Chan storage c, uint256 amount, uint256 claimed, bytes memory sig) internal view returns (bytes memory) {
        if (c.settled) return abi.encodeWithSelector(IPaymentChannels.ChannelIsSettled.selector, c.id);
        if (amount <= claimed) return abi.encodeWithSelector(IPaymentChannels.NothingToClaim.selector, c.id, amount, claimed);
        if (c.closesAt != 0 && now_ >= c.closesAt) {
            return abi.encodeWithSelector(IPaymentChannels.ChallengePeriodOver.selector, c.id, c.closesAt);
        }
        if (amount > c.deposit) return abi.encodeWithSelector(IPaymentChannels.ChannelAmountTooHigh.selector, amount, c.deposit);
        (address recovered,,) = ECDSA.tryRecover(_voucherDigest(c.id, amount), sig);
        if (recovered != c.terms.signer) {
            return abi.encodeWithSelector(IPaymentChannels.InvalidSignature.selector, c.id, c.terms.signer, recovered);
        }
        return "";
    }

    function _expectClose(Chan storage c, address caller, uint256 amount, bytes memory sig) internal view returns (bytes memory) {
        if (c.settled) return abi.encodeWithSelector(IPaymentChannels.ChannelIsSettled.selector, c.id);
        if (caller != c.terms.payer) return abi.encodeWithSelector(IPaymentChannels.NotPayer.selector, c.id, caller);
        if (amount > c.deposit) return abi.encodeWithSelector(IPaymentChannels.ChannelAmountTooHigh.selector, amount, c.deposit);
        if (amount < c.claimed) return abi.encodeWithSelector(IPaymentChannels.AmountBelowClaimed.selector, amount, c.claimed);
        (address recovered,,) = ECDSA.tryRecover(_closeDigest(c.id, amount), sig);
        if (recovered != c.terms.device) {
            return abi.encodeWithSelector(IPaymentChannels.InvalidSignature.selector, c.id, c.terms.device, recovered);
        }
        return "";
    }

    /// @dev Provider share and royalty of moving this channel's claimed amount to `amount`, computed here.
    function _split(Chan storage c, uint256 amount) internal view returns (uint256 payout, uint256 royalty) {
        if (amount <= c.claimed) return (0, 0);
        uint256 delta = amount - c.claimed;
        // Royalty of the cumulative amount minus royalty of what was claimed (exact at any claim granularity).
        royalty = amount * c.terms.royaltyBps / 10_000 - c.claimed * c.terms.royaltyBps / 10_000;
        payout = delta - royalty;
    }

    function _book(Chan storage c, uint256 amount, uint256 payout, uint256 royalty) internal {
        assertGe(amount, c.claimed, "model: claims only grow");
        c.claimed = amount;
        c.paidProvider += payout;
        c.paidRoyalty += royalty;
        paidToProviders += payout;
        royaltiesAccrued += royalty;
        expectedBalance[c.terms.payee] += payout;
        expectedRoyalties[c.terms.modelId] += royalty;
    }

    function _settle(Chan storage c, uint256 refund) internal {
        c.settled = true;
        c.refunded = refund;
        refunded += refund;
        expectedBalance[c.terms.payer] += refund;
    }

    /// @dev The provider submits its best voucher during the challenge period; it must succeed and pay in full.
    function _defend(Chan storage c) internal {
        if (c.bestVoucher <= c.claimed) return;
        uint256 amount = c.bestVoucher;
        (uint256 payout, uint256 royalty) = _split(c, amount);
        uint256 payeeBefore = token.balanceOf(c.terms.payee);
        vm.prank(c.terms.payee);
        channels.claim(c.terms, amount, _voucher(c.signerPk, c.id, amount));
        assertEq(token.balanceOf(c.terms.payee) - payeeBefore, payout, "a claim inside the challenge period pays in full");
        _book(c, amount, payout, royalty);
        c.defendedAmount = amount;
        _count("defend.ok");
    }
}
