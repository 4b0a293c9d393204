// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IPaymentChannels} from "../../contracts/interfaces/IPaymentChannels.sol";
import {RoyaltyMath} from "../../contracts/libraries/RoyaltyMath.sol";
import {Marketplace} from "./lib/Marketplace.sol";
import {Assertions} from "./lib/Assertions.sol";
import {vm} from "./lib/Vm.sol";

/// @notice Targeted fuzz tests of PaymentChannels: exact royalty splits for any royalty and amount, no double
/// claim, monotonic claims, no replay across channels, chains or contracts, the challenge period protecting a
/// provider's vouchers, settled channels staying settled, batch accounting, and the calldata id shortcut.
contract PaymentChannelsFuzzTest is Marketplace, Assertions {
    uint256 internal constant PAYER_PK = 0xA11CE;
    uint256 internal constant SIGNER_PK = 0x5E551;
    uint256 internal constant DEVICE_PK = 0xDE71CE;
    uint256 internal constant PROVIDER_PK = 0xB0B;
    uint256 internal constant OWNER_PK = 0x0DE1;

    address internal payer;
    address internal signer;
    address internal provider;
    address internal device;
    address internal modelOwner;
    uint256 internal nextSalt;

    function setUp() public {
        _deployMarketplace();
        payer = vm.addr(PAYER_PK);
        signer = vm.addr(SIGNER_PK);
        provider = vm.addr(PROVIDER_PK);
        modelOwner = vm.addr(OWNER_PK);
        device = _registerDevice(provider, DEVICE_PK);
    }

    // ---------------------------------------------------------------- royalty split

    /// @notice For any royalty in 0..5000 bps and any deposit and two cumulative vouchers, each claim splits its
    /// delta exactly: royalty = floor(amount * bps / 10000) - floor(claimed * bps / 10000) to the model (the royalty
    /// of the cumulative amount, so claim granularity changes nothing), the rest to the provider, and at the end
    /// provider + model owner + refund = deposit to the unit.
    function testFuzz_royaltySplitSumsExactly(uint16 bpsSeed, uint256 depositSeed, uint256 firstSeed, uint256 secondSeed) public {
        uint16 bps = uint16(bpsSeed % 5_001);
        uint96 deposit = uint96(_amount(depositSeed, 96));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(bps, 1_000, deposit);
        uint256 first = _bound(firstSeed, 1, deposit);
        uint256 second = _bound(secondSeed, first, deposit);

        _claimAndCheckSplit(t, id, first, 0, bps);
        if (second > first) _claimAndCheckSplit(t, id, second, first, bps);

        vm.prank(payer);
        channels.requestClose(t);
        vm.warp(block.timestamp + CHALLENGE_PERIOD);
        channels.withdraw(t);
        uint256 royalty = channels.royaltiesOf(t.modelId, address(token));
        if (royalty != 0) {
            vm.prank(modelOwner);
            channels.withdrawRoyalties(t.modelId, address(token), modelOwner);
        }

        assertEq(token.balanceOf(provider) + token.balanceOf(modelOwner) + token.balanceOf(payer), deposit, "provider + royalty + refund == deposit");
        assertEq(token.balanceOf(modelOwner), royalty, "model owner got the accrued royalty");
        assertEq(token.balanceOf(payer), deposit - second, "refund is deposit - claimed");
        assertEq(token.balanceOf(address(channels)), 0, "nothing stuck");
    }

    /// @notice RoyaltyMath rounds down, never above the amount, and is exact to within one unit.
    function testFuzz_royaltyMathRoundsDown(uint256 amountSeed, uint16 bps) public pure {
        uint256 amount = amountSeed >> 56; // keeps amount * 10000 in range
        bps = uint16(bps % 10_001);
        uint256 r = RoyaltyMath.royalty(amount, bps);
        assertLe(r, amount, "royalty <= amount");
        assertLe(r * 10_000, amount * bps, "rounded down");
        assertTrue(amount * bps < (r + 1) * 10_000, "by less than one unit");
    }

    // ---------------------------------------------------------------- double claim, monotonic claims

    /// @notice A voucher claimed twice pays once, by claim and inside claimMany (where it is skipped).
    function testFuzz_doubleClaimPaysOnce(uint256 depositSeed, uint256 amountSeed, address submitter) public {
        uint96 deposit = uint96(_amount(depositSeed, 96));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(1_000, 1_000, deposit);
        uint256 amount = _bound(amountSeed, 1, deposit);
        bytes memory sig = _voucher(SIGNER_PK, id, amount);

        vm.prank(submitter);
        channels.claim(t, amount, sig);
        uint256 paid = token.balanceOf(provider);
        uint256 royalty = channels.royaltiesOf(t.modelId, address(token));
        assertEq(paid + royalty, amount, "first claim pays the voucher");

        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NothingToClaim.selector, id, amount, amount));
        vm.prank(submitter);
        channels.claim(t, amount, sig);

        IPaymentChannels.Claim[] memory batch = new IPaymentChannels.Claim[](3);
        for (uint256 i; i < 3; ++i) batch[i] = IPaymentChannels.Claim({terms: t, cumulativeAmount: amount, signature: sig});
        channels.claimMany(batch);

        assertEq(token.balanceOf(provider), paid, "replays paid nothing more");
        assertEq(channels.royaltiesOf(t.modelId, address(token)), royalty, "replays accrued nothing more");
        assertEq(channels.getChannel(id).claimed, amount, "claimed unchanged");
    }

    /// @notice The same new voucher twice in one batch pays its delta once.
    function testFuzz_sameVoucherTwiceInOneBatchPaysOnce(uint256 depositSeed, uint256 amountSeed) public {
        uint96 deposit = uint96(_amount(depositSeed, 96));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(2_500, 1_000, deposit);
        uint256 amount = _bound(amountSeed, 1, deposit);
        IPaymentChannels.Claim[] memory batch = new IPaymentChannels.Claim[](2);
        batch[0] = IPaymentChannels.Claim({terms: t, cumulativeAmount: amount, signature: _voucher(SIGNER_PK, id, amount)});
        batch[1] = batch[0];
        channels.claimMany(batch);
        uint256 royalty = channels.royaltiesOf(t.modelId, address(token));
        assertEq(royalty, amount * 2_500 / 10_000, "royalty accrued once");
        assertEq(token.balanceOf(provider), amount - royalty, "paid once");
        assertEq(token.balanceOf(address(channels)), deposit - amount + royalty, "the rest and the royalty stay");
    }

    /// @notice Claims only move up: a lower voucher after a higher one reverts and changes nothing; a higher one pays
    /// exactly the difference.
    function testFuzz_claimsAreMonotonic(uint256 depositSeed, uint256 aSeed, uint256 bSeed, uint256 cSeed) public {
        uint96 deposit = uint96(_amount(depositSeed, 96));
        vm.assume(deposit >= 2);
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(0, 1_000, deposit);
        uint256 a = _bound(aSeed, 1, deposit - 1);
        uint256 b = _bound(bSeed, 0, a);
        uint256 c = _bound(cSeed, a + 1, deposit);

        channels.claim(t, a, _voucher(SIGNER_PK, id, a));
        bytes memory lower = _voucher(SIGNER_PK, id, b);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.NothingToClaim.selector, id, b, a));
        channels.claim(t, b, lower);
        assertEq(channels.getChannel(id).claimed, a, "a lower voucher does not lower claimed");

        channels.claim(t, c, _voucher(SIGNER_PK, id, c));
        assertEq(token.balanceOf(provider), c, "0 bps: the provider has exactly the highest voucher");
    }

    /// @notice A voucher above the deposit is refused; after a top-up that covers it, it pays.
    function testFuzz_claimNeverExceedsDeposit(uint256 depositSeed, uint256 overSeed) public {
        uint96 deposit = uint96(_amount(depositSeed, 90));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(300, 1_000, deposit);
        uint256 amount = deposit + _bound(overSeed, 1, type(uint64).max);
        bytes memory sig = _voucher(SIGNER_PK, id, amount);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelAmountTooHigh.selector, amount, deposit));
        channels.claim(t, amount, sig);

        uint96 more = uint96(amount - deposit);
        token.mint(payer, more);
        vm.prank(payer);
        token.approve(address(channels), more);
        vm.prank(payer);
        channels.topUp(t, more);
        channels.claim(t, amount, sig);
        assertEq(channels.getChannel(id).claimed, amount, "claimable after the top-up");
        assertEq(token.balanceOf(address(channels)), channels.royaltiesOf(t.modelId, address(token)), "only royalty left");
    }

    // ---------------------------------------------------------------- replay

    /// @notice A voucher binds its channel, chain and contract: it fails on a sibling channel of the same signer,
    /// and a voucher signed for another chain id or verifying contract fails here.
    function testFuzz_voucherCannotBeReplayed(uint256 amountSeed, uint256 otherChainId, address otherContract) public {
        vm.assume(otherChainId != block.chainid && otherContract != address(channels));
        (IPaymentChannels.ChannelTerms memory a, bytes32 idA) = _channel(1_000, 1_000, 1e12);
        (IPaymentChannels.ChannelTerms memory b, bytes32 idB) = _channel(1_000, 1_000, 1e12);
        uint256 amount = _bound(amountSeed, 1, 1e12);

        bytes memory forA = _voucher(SIGNER_PK, idA, amount);
        _expectInvalidSignature(idB, b.signer, _voucherDigest(idB, amount), forA);
        channels.claim(b, amount, forA);

        bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, idA, amount));
        bytes memory otherChain = _sign(SIGNER_PK, _typedDigest(structHash, "Edgepay PaymentChannels", address(channels), otherChainId));
        _expectInvalidSignature(idA, a.signer, _voucherDigest(idA, amount), otherChain);
        channels.claim(a, amount, otherChain);

        bytes memory otherVerifier = _sign(SIGNER_PK, _typedDigest(structHash, "Edgepay PaymentChannels", otherContract, block.chainid));
        _expectInvalidSignature(idA, a.signer, _voucherDigest(idA, amount), otherVerifier);
        channels.claim(a, amount, otherVerifier);

        // A device's close consent is not a voucher either (different type hash).
        bytes memory closeConsent = _closeSig(SIGNER_PK, idA, amount);
        _expectInvalidSignature(idA, a.signer, _voucherDigest(idA, amount), closeConsent);
        channels.claim(a, amount, closeConsent);

        channels.claim(a, amount, forA);
        assertEq(channels.getChannel(idA).claimed, amount, "the right voucher still works");
        assertEq(channels.getChannel(idB).claimed, 0, "the sibling is untouched");
    }

    // ---------------------------------------------------------------- challenge period

    /// @notice Once the payer requests a close, the provider can claim any valid voucher until the challenge period
    /// ends and always receives it in full; the payer's withdraw gets only the rest, and not before the end.
    function testFuzz_claimInChallengePeriodAlwaysPays(uint256 depositSeed, uint256 amountSeed, uint256 elapsedSeed, uint16 bpsSeed)
        public
    {
        uint16 bps = uint16(bpsSeed % 5_001);
        uint96 deposit = uint96(_amount(depositSeed, 96));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(bps, 1_000, deposit);
        uint256 amount = _bound(amountSeed, 1, deposit);
        bytes memory sig = _voucher(SIGNER_PK, id, amount);

        vm.prank(payer);
        channels.requestClose(t);
        uint256 closesAt = block.timestamp + CHALLENGE_PERIOD;
        vm.warp(block.timestamp + _bound(elapsedSeed, 0, CHALLENGE_PERIOD - 1));

        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChallengePeriodActive.selector, id, closesAt));
        vm.prank(payer);
        channels.withdraw(t);

        channels.claim(t, amount, sig);
        uint256 royalty = amount * bps / 10_000;
        assertEq(token.balanceOf(provider), amount - royalty, "the provider got its voucher in full");

        vm.warp(closesAt);
        channels.withdraw(t);
        assertEq(token.balanceOf(payer), deposit - amount, "the payer got only the rest");
        assertEq(channels.royaltiesOf(t.modelId, address(token)), royalty, "royalty accrued");
        assertEq(token.balanceOf(address(channels)), royalty, "only the royalty remains");
    }

    /// @notice After the challenge period no voucher is accepted, and the refund is deposit - claimed.
    function testFuzz_claimAfterChallengePeriodRefused(uint256 depositSeed, uint256 amountSeed, uint256 lateSeed) public {
        uint96 deposit = uint96(_amount(depositSeed, 96));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(0, 1_000, deposit);
        uint256 amount = _bound(amountSeed, 1, deposit);
        vm.prank(payer);
        channels.requestClose(t);
        uint256 closesAt = block.timestamp + CHALLENGE_PERIOD;
        vm.warp(closesAt + _bound(lateSeed, 0, 365 days));
        bytes memory sig = _voucher(SIGNER_PK, id, amount);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChallengePeriodOver.selector, id, closesAt));
        channels.claim(t, amount, sig);
        channels.withdraw(t);
        assertEq(token.balanceOf(payer), deposit, "full refund when nothing was claimed");
    }

    // ---------------------------------------------------------------- settled stays settled

    /// @notice Once settled (by withdraw or cooperative close), every state-changing call on the channel reverts with
    /// ChannelIsSettled, re-opening the same terms reverts with ChannelExists, and its state never changes.
    function testFuzz_settledChannelStaysSettled(uint256 depositSeed, uint256 amountSeed, bool cooperative) public {
        uint96 deposit = uint96(_amount(depositSeed, 95));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(1_000, 1_000, deposit);
        uint256 amount = _bound(amountSeed, 0, deposit);
        if (cooperative) {
            bytes memory consent = _closeSig(DEVICE_PK, id, amount);
            vm.prank(payer);
            channels.closeCooperatively(t, amount, consent);
        } else {
            if (amount != 0) channels.claim(t, amount, _voucher(SIGNER_PK, id, amount));
            vm.prank(payer);
            channels.requestClose(t);
            vm.warp(block.timestamp + CHALLENGE_PERIOD);
            channels.withdraw(t);
        }
        IPaymentChannels.Channel memory settled = channels.getChannel(id);
        assertTrue(settled.settled, "settled");
        assertEq(settled.claimed, amount, "final claimed");
        uint256 balance = token.balanceOf(address(channels));

        uint256 higher = uint256(deposit);
        bytes memory sig = _voucher(SIGNER_PK, id, higher);
        bytes memory settledErr = abi.encodeWithSelector(IPaymentChannels.ChannelIsSettled.selector, id);
        vm.expectRevert(settledErr);
        channels.claim(t, higher, sig);
        IPaymentChannels.Claim[] memory batch = new IPaymentChannels.Claim[](1);
        batch[0] = IPaymentChannels.Claim({terms: t, cumulativeAmount: higher, signature: sig});
        vm.expectRevert(settledErr);
        channels.claimMany(batch);
        token.mint(payer, 1);
        vm.prank(payer);
        token.approve(address(channels), 2);
        vm.expectRevert(settledErr);
        vm.prank(payer);
        channels.topUp(t, 1);
        vm.expectRevert(settledErr);
        vm.prank(payer);
        channels.requestClose(t);
        vm.expectRevert(settledErr);
        channels.withdraw(t);
        bytes memory consentHigher = _closeSig(DEVICE_PK, id, higher);
        vm.expectRevert(settledErr);
        vm.prank(payer);
        channels.closeCooperatively(t, higher, consentHigher);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.ChannelExists.selector, id));
        vm.prank(payer);
        channels.open(t, 1);

        IPaymentChannels.Channel memory after_ = channels.getChannel(id);
        assertTrue(after_.settled, "still settled");
        assertEq(after_.claimed, settled.claimed, "claimed frozen");
        assertEq(after_.deposit, settled.deposit, "deposit frozen");
        assertEq(token.balanceOf(address(channels)), balance, "no token moved");
    }

    // ---------------------------------------------------------------- cooperative close

    /// @notice A cooperative close pays the last delta (royalty split included) and refunds the rest at once.
    function testFuzz_cooperativeCloseSplits(uint256 depositSeed, uint256 claimedSeed, uint256 finalSeed, uint16 bpsSeed) public {
        uint16 bps = uint16(bpsSeed % 5_001);
        uint96 deposit = uint96(_amount(depositSeed, 96));
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(bps, 1_000, deposit);
        uint256 claimed = _bound(claimedSeed, 0, deposit);
        uint256 finalAmount = _bound(finalSeed, claimed, deposit);
        if (claimed != 0) channels.claim(t, claimed, _voucher(SIGNER_PK, id, claimed));
        uint256 providerBefore = token.balanceOf(provider);
        uint256 royaltyBefore = channels.royaltiesOf(t.modelId, address(token));

        if (claimed != 0) {
            bytes memory below = _closeSig(DEVICE_PK, id, claimed - 1);
            vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.AmountBelowClaimed.selector, claimed - 1, claimed));
            vm.prank(payer);
            channels.closeCooperatively(t, claimed - 1, below);
        }
        bytes memory bySigner = _closeSig(SIGNER_PK, id, finalAmount);
        _expectInvalidSignature(id, device, _closeDigest(id, finalAmount), bySigner);
        vm.prank(payer);
        channels.closeCooperatively(t, finalAmount, bySigner);

        bytes memory consent = _closeSig(DEVICE_PK, id, finalAmount);
        vm.prank(payer);
        channels.closeCooperatively(t, finalAmount, consent);
        uint256 delta = finalAmount - claimed;
        uint256 royalty = finalAmount * bps / 10_000 - claimed * bps / 10_000;
        assertEq(token.balanceOf(provider) - providerBefore, delta - royalty, "last delta minus royalty");
        assertEq(channels.royaltiesOf(t.modelId, address(token)) - royaltyBefore, royalty, "royalty on the last delta");
        assertEq(token.balanceOf(payer), deposit - finalAmount, "refund at once");
    }

    // ---------------------------------------------------------------- batches

    /// @notice A batch over several channels, two payees and two models (random royalties), with repeats and stale
    /// vouchers, pays every payee and model exactly the sum of the deltas it booked.
    function testFuzz_claimManyAccounting(uint256 seed, uint8 size, uint16 bpsA, uint16 bpsB) public {
        address provider2 = vm.addr(PROVIDER_PK + 1);
        address device2 = _registerDevice(provider2, DEVICE_PK + 1);
        uint16[2] memory bps = [uint16(bpsA % 5_001), uint16(bpsB % 5_001)];
        uint256[2] memory modelIds = [_publish(modelOwner, bps[0]), _publish(modelOwner, bps[1])];
        IPaymentChannels.ChannelTerms[4] memory ts;
        for (uint256 k; k < 4; ++k) {
            address pay = k % 2 == 0 ? provider : provider2;
            address dev = k % 2 == 0 ? device : device2;
            _offer(pay, dev, modelIds[k / 2], 1_000);
            ts[k] = _terms(payer, signer, dev, pay, modelIds[k / 2], 1_000, bps[k / 2], ++nextSalt);
            _open(ts[k], 1e15);
        }
        uint256 n = 1 + size % 12;
        IPaymentChannels.Claim[] memory batch = new IPaymentChannels.Claim[](n);
        uint256[4] memory claimed;
        uint256[2] memory expectPayee;
        uint256[2] memory expectRoyalty;
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            uint256 k = r % 4;
            uint256 amount = _bound(r >> 8, 0, 1e15);
            batch[i] = IPaymentChannels.Claim({terms: ts[k], cumulativeAmount: amount, signature: _voucher(SIGNER_PK, _idOf(ts[k]), amount)});
            if (amount <= claimed[k]) continue;
            uint256 delta = amount - claimed[k];
            uint256 royalty = amount * bps[k / 2] / 10_000 - claimed[k] * bps[k / 2] / 10_000;
            claimed[k] = amount;
            expectPayee[k % 2] += delta - royalty;
            expectRoyalty[k / 2] += royalty;
        }
        channels.claimMany(batch);
        assertEq(token.balanceOf(provider), expectPayee[0], "provider 1 total");
        assertEq(token.balanceOf(provider2), expectPayee[1], "provider 2 total");
        assertEq(channels.royaltiesOf(modelIds[0], address(token)), expectRoyalty[0], "model A royalties");
        assertEq(channels.royaltiesOf(modelIds[1], address(token)), expectRoyalty[1], "model B royalties");
        for (uint256 k; k < 4; ++k) assertEq(channels.getChannel(_idOf(ts[k])).claimed, claimed[k], "claimed per channel");
    }

    // ---------------------------------------------------------------- ids, digests, calldata

    /// @notice channelId is keccak256(abi.encode(terms)), and the digests are the EIP-712 ones computed here.
    function testFuzz_idsAndDigestsMatchTheSpec(IPaymentChannels.ChannelTerms memory t, uint256 amount) public view {
        bytes32 id = _idOf(t);
        assertEq(channels.channelId(t), id, "channelId");
        assertEq(channels.voucherDigest(id, amount), _voucherDigest(id, amount), "voucherDigest");
        assertEq(channels.closeDigest(id, amount), _closeDigest(id, amount), "closeDigest");
    }

    /// @notice Terms whose narrow fields carry dirty high bits (a non-canonical ABI encoding) cannot open a channel,
    /// so every stored id is the hash of canonical terms; the same dirty terms cannot claim from the clean channel.
    function testFuzz_nonCanonicalTermsRejected(uint8 fieldSeed, uint256 dirt) public {
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(1_000, 1_000, 1e9);
        // Words 0-4 are addresses (160 bits), 6 is uint96 price, 7 is uint16 royaltyBps.
        uint256[7] memory words = [uint256(0), 1, 2, 3, 4, 6, 7];
        uint256[7] memory widths = [uint256(160), 160, 160, 160, 160, 96, 16];
        uint256 f = fieldSeed % 7;
        uint256 high = dirt << widths[f];
        vm.assume(high != 0);

        IPaymentChannels.ChannelTerms memory fresh = t;
        fresh.salt = ++nextSalt;
        token.mint(payer, 1e9);
        vm.prank(payer);
        token.approve(address(channels), 1e9);
        bytes memory openCall = _dirty(abi.encodeCall(IPaymentChannels.open, (fresh, 1e9)), words[f], high);
        vm.prank(payer);
        (bool opened,) = address(channels).call(openCall);
        assertTrue(!opened, "open with non-canonical terms must revert");
        assertEq(token.balanceOf(payer), 1e9, "nothing pulled");

        // Control: the same terms, canonically encoded, open fine (so the revert above was the dirty word).
        vm.prank(payer);
        channels.open(fresh, 1e9);
        assertEq(channels.getChannel(_idOf(fresh)).deposit, 1e9, "canonical terms open");

        bytes memory claimCall = _dirty(abi.encodeCall(IPaymentChannels.claim, (t, 100, _voucher(SIGNER_PK, id, 100))), words[f], high);
        (bool claimed,) = address(channels).call(claimCall);
        assertTrue(!claimed, "claim with non-canonical terms must revert");
        assertEq(channels.getChannel(id).claimed, 0, "clean channel untouched");
    }

    // ---------------------------------------------------------------- terms at open

    /// @notice Price and royalty are snapshotted: later changes by the model owner or provider do not alter a running
    /// channel's split, and new channels must match the current terms.
    function testFuzz_termsSnapshottedAtOpen(uint16 bpsSeed, uint16 newBpsSeed, uint96 newPrice, uint256 amountSeed) public {
        uint16 bps = uint16(bpsSeed % 5_001);
        uint16 newBps = uint16(newBpsSeed % 5_001);
        vm.assume(newBps != bps && newPrice != 0 && newPrice != 1_000);
        (IPaymentChannels.ChannelTerms memory t, bytes32 id) = _channel(bps, 1_000, 1e12);
        vm.prank(modelOwner);
        models.setTerms(t.modelId, newBps, 0);
        vm.prank(provider);
        devices.setOffering(device, t.modelId, address(token), newPrice);

        uint256 amount = _bound(amountSeed, 1, 1e12);
        channels.claim(t, amount, _voucher(SIGNER_PK, id, amount));
        assertEq(channels.royaltiesOf(t.modelId, address(token)), amount * bps / 10_000, "the royalty at open applies");

        IPaymentChannels.ChannelTerms memory stale = t;
        stale.salt = ++nextSalt;
        token.mint(payer, 1e6);
        vm.prank(payer);
        token.approve(address(channels), 1e6);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.PriceMismatch.selector, uint256(1_000), uint256(newPrice)));
        vm.prank(payer);
        channels.open(stale, 1e6);
        stale.price = newPrice;
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.RoyaltyMismatch.selector, bps, newBps));
        vm.prank(payer);
        channels.open(stale, 1e6);
    }

    // ---------------------------------------------------------------- helpers

    function _channel(uint16 bps, uint96 price, uint96 deposit) internal returns (IPaymentChannels.ChannelTerms memory t, bytes32 id) {
        uint256 modelId = _publish(modelOwner, bps);
        _offer(provider, device, modelId, price);
        t = _terms(payer, signer, device, provider, modelId, price, bps, ++nextSalt);
        id = _open(t, deposit);
    }

    function _claimAndCheckSplit(IPaymentChannels.ChannelTerms memory t, bytes32 id, uint256 amount, uint256 claimed, uint16 bps) internal {
        uint256 providerBefore = token.balanceOf(provider);
        uint256 royaltyBefore = channels.royaltiesOf(t.modelId, address(token));
        channels.claim(t, amount, _voucher(SIGNER_PK, id, amount));
        uint256 delta = amount - claimed;
        uint256 paid = token.balanceOf(provider) - providerBefore;
        uint256 royalty = channels.royaltiesOf(t.modelId, address(token)) - royaltyBefore;
        assertEq(paid + royalty, delta, "payout + royalty == delta");
        assertEq(royalty, amount * bps / 10_000 - claimed * bps / 10_000, "royalty = R(amount) - R(claimed)");
        assertEq(channels.royaltiesOf(t.modelId, address(token)), amount * bps / 10_000, "accrued = floor(cumulative * bps / 10000)");
        assertLe(royalty, delta, "the royalty never exceeds the delta");
    }

    function _expectInvalidSignature(bytes32 id, address expected, bytes32 digest, bytes memory sig) internal {
        (address recovered,,) = ECDSA.tryRecover(digest, sig);
        vm.expectRevert(abi.encodeWithSelector(IPaymentChannels.InvalidSignature.selector, id, expected, recovered));
    }

    /// @dev ORs `high` into ABI word `word` of the terms, which start right after the 4-byte selector.
    function _dirty(bytes memory data, uint256 word, uint256 high) internal pure returns (bytes memory) {
        uint256 offset = 4 + 32 * word;
        uint256 value;
        assembly ("memory-safe") {
            value := mload(add(add(data, 0x20), offset))
        }
        value |= high;
        assembly ("memory-safe") {
            mstore(add(add(data, 0x20), offset), value)
        }
        return data;
    }
}
