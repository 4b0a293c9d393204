// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IPaymentChannels} from "../../../contracts/interfaces/IPaymentChannels.sol";
import {FeeOnTransferERC20} from "../../../contracts/test/FeeOnTransferERC20.sol";
import {SenderTaxedERC20} from "../../../contracts/test/SenderTaxedERC20.sol";
import {RebasingERC20} from "../../../contracts/test/RebasingERC20.sol";
import {BlacklistableERC20} from "../../../contracts/test/BlacklistableERC20.sol";
import {PlainERC20} from "../../../contracts/test/PlainERC20.sol";
import {Marketplace} from "./Marketplace.sol";
import {Assertions} from "./Assertions.sol";
import {vm} from "./Vm.sol";

/// @notice Drives PaymentChannels with tokens that fight the accounting: a fee-on-transfer token (the recipient gets
/// less), a sender-taxed token (the sender loses more), a rebasing token (balances move without transfers) and a
/// USDC-like token that pauses and blacklists (transfers fail). Actions never revert (failOnRevert): each call is
/// tried and its failure checked where the outcome is known (fee and tax tokens must be refused with
/// UnsupportedToken). The solvency invariant is checked against on-chain state only.
contract HostileTokensHandler is Marketplace, Assertions {
    struct Chan {
        IPaymentChannels.ChannelTerms terms;
        bytes32 id;
        uint256 signerPk;
    }

    uint256 internal constant TOKENS = 4;
    uint256 internal constant PAYERS = 2;
    uint256 internal constant MODELS = 2;
    uint256 internal constant MAX_CHANNELS = 12;
    uint256 internal constant DEVICE_PK = 0xDE7;

    PlainERC20[TOKENS] public tokens; // 0 fee-on-transfer, 1 sender-taxed, 2 rebasing, 3 blacklistable
    address[PAYERS] public payers;
    uint256[PAYERS] internal signerPks;
    address public provider;
    address internal device;
    uint256[MODELS] public modelIds;
    uint16[MODELS] internal bps;
    address[MODELS] internal modelOwners;
    uint96 internal constant PRICE = 1_000;

    Chan[] internal chans;
    uint256 internal salt;
    uint256 public now_;
    mapping(bytes32 => uint256) public outcomes;

    constructor() {
        _deployMarketplace();
        now_ = block.timestamp;
        tokens[0] = new FeeOnTransferERC20(100);
        tokens[1] = new SenderTaxedERC20(200);
        tokens[2] = new RebasingERC20();
        tokens[3] = new BlacklistableERC20();
        for (uint256 i; i < PAYERS; ++i) {
            payers[i] = vm.addr(0xBA1E0 + i);
            signerPks[i] = 0x5E5E0 + i;
        }
        bps[0] = 777;
        bps[1] = 5_000;
        for (uint256 m; m < MODELS; ++m) {
            modelOwners[m] = vm.addr(0x0E0E0 + m);
            modelIds[m] = _publish(modelOwners[m], bps[m]);
        }
        provider = vm.addr(0xB0B);
        device = _registerDevice(provider, DEVICE_PK);
        for (uint256 m; m < MODELS; ++m) {
            vm.prank(provider);
            models.takeLicense(modelIds[m], provider, 0);
            for (uint256 t; t < TOKENS; ++t) {
                vm.prank(provider);
                devices.setOffering(device, modelIds[m], address(tokens[t]), PRICE);
            }
        }
    }

    // ---------------------------------------------------------------- actions

    function open(uint256 tokenSeed, uint256 payerSeed, uint256 modelSeed, uint256 depositSeed) external {
        _sync();
        if (chans.length >= MAX_CHANNELS) return;
        uint256 t = tokenSeed % TOKENS;
        uint256 b = payerSeed % PAYERS;
        uint256 m = modelSeed % MODELS;
        uint96 deposit = uint96(_bound(depositSeed, 1_000, 1e15));
        IPaymentChannels.ChannelTerms memory terms = IPaymentChannels.ChannelTerms({
            payer: payers[b],
            signer: vm.addr(signerPks[b]),
            device: device,
            payee: provider,
            token: address(tokens[t]),
            modelId: modelIds[m],
            price: PRICE,
            royaltyBps: bps[m],
            salt: ++salt
        });
        // Twice the deposit: a sender-taxed token charges the payer's tax on top of the amount.
        tokens[t].faucet(payers[b], 2 * uint256(deposit));
        vm.prank(payers[b]);
        tokens[t].approve(address(channels), deposit);
        vm.prank(payers[b]);
        try channels.open(terms, deposit) returns (bytes32 id) {
            assertTrue(t >= 2, "a fee-on-transfer or sender-taxed token opened a channel");
            Chan storage c = chans.push();
            c.terms = terms;
            c.id = id;
            c.signerPk = signerPks[b];
            _count("open.ok");
        } catch (bytes memory err) {
            if (t < 2) {
                assertEq(bytes4(err), IPaymentChannels.UnsupportedToken.selector, "fee and tax tokens are refused");
                _count(t == 0 ? "open.refused.fee" : "open.refused.tax");
            } else {
                _count("open.failed");
            }
        }
    }

    function topUp(uint256 chanSeed, uint256 amountSeed) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        uint256 amount = _bound(amountSeed, 1, 1e12);
        PlainERC20 tok = PlainERC20(c.terms.token);
        tok.faucet(c.terms.payer, amount);
        vm.prank(c.terms.payer);
        tok.approve(address(channels), amount);
        vm.prank(c.terms.payer);
        try channels.topUp(c.terms, uint96(amount)) {
            _count("topUp.ok");
        } catch {
            _count("topUp.failed");
        }
    }

    function claim(uint256 chanSeed, uint256 amountSeed, address caller) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        IPaymentChannels.Channel memory ch = channels.getChannel(c.id);
        uint256 amount = _bound(amountSeed, uint256(ch.claimed) + 1, ch.deposit);
        uint256 creditBefore = channels.creditOf(provider, c.terms.token);
        vm.prank(caller);
        try channels.claim(c.terms, amount, _voucher(c.signerPk, c.id, amount)) {
            _count(channels.creditOf(provider, c.terms.token) > creditBefore ? "claim.credited" : "claim.paid");
        } catch {
            _count("claim.failed");
        }
    }

    function claimMany(uint256 seed, uint8 count) external {
        _sync();
        if (chans.length == 0) return;
        uint256 n = 1 + count % 4;
        IPaymentChannels.Claim[] memory items = new IPaymentChannels.Claim[](n);
        for (uint256 i; i < n; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            Chan storage c = chans[r % chans.length];
            IPaymentChannels.Channel memory ch = channels.getChannel(c.id);
            uint256 amount = _bound(r >> 8, ch.claimed, ch.deposit);
            items[i] = IPaymentChannels.Claim({terms: c.terms, cumulativeAmount: amount, signature: _voucher(c.signerPk, c.id, amount)});
        }
        try channels.claimMany(items) {
            _count("claimMany.ok");
        } catch {
            _count("claimMany.failed");
        }
    }

    function requestClose(uint256 chanSeed) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        vm.prank(c.terms.payer);
        try channels.requestClose(c.terms) {
            _count("requestClose.ok");
        } catch {}
    }

    function warp(uint256 secondsSeed) external {
        now_ += _bound(secondsSeed, 1, 2 * CHALLENGE_PERIOD);
        vm.warp(now_);
    }

    function withdraw(uint256 chanSeed) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        try channels.withdraw(c.terms) {
            _count("withdraw.ok");
        } catch {}
    }

    function closeCooperatively(uint256 chanSeed, uint256 amountSeed) external {
        _sync();
        if (chans.length == 0) return;
        Chan storage c = chans[chanSeed % chans.length];
        IPaymentChannels.Channel memory ch = channels.getChannel(c.id);
        uint256 amount = _bound(amountSeed, ch.claimed, ch.deposit);
        bytes memory sig = _closeSig(DEVICE_PK, c.id, amount);
        vm.prank(c.terms.payer);
        try channels.closeCooperatively(c.terms, amount, sig) {
            _count("closeCooperatively.ok");
        } catch {}
    }

    function withdrawRoyalties(uint256 modelSeed, uint256 tokenSeed) external {
        _sync();
        uint256 m = modelSeed % MODELS;
        address tok = address(tokens[tokenSeed % TOKENS]);
        vm.prank(modelOwners[m]);
        try channels.withdrawRoyalties(modelIds[m], tok, modelOwners[m]) {
            _count("withdrawRoyalties.ok");
        } catch {}
    }

    function withdrawCredit(uint256 actorSeed, uint256 tokenSeed) external {
        _sync();
        address who = _actor(actorSeed);
        address tok = address(tokens[tokenSeed % TOKENS]);
        // To a wallet of the actor's that no switch of the blacklistable token blocks.
        vm.prank(who);
        try channels.withdrawCredit(tok, address(uint160(uint256(keccak256(abi.encode("cold wallet", who)))))) {
            _count("withdrawCredit.ok");
        } catch {}
    }

    /// @notice Rebasing token: grows the contract's balance (positive rebase), or grows or shrinks an actor's.
    /// A negative rebase or clawback of the contract's own balance is outside the supported token set (README).
    function rebase(uint256 actorSeed, uint256 amountSeed, bool ofContract) external {
        RebasingERC20 reb = RebasingERC20(address(tokens[2]));
        if (ofContract) {
            reb.rebase(address(channels), int256(_bound(amountSeed, 1, 1e12)));
            _count("rebase.contract.up");
        } else {
            address who = _actor(actorSeed);
            uint256 bal = reb.balanceOf(who);
            int256 delta = amountSeed % 2 == 0 ? int256(_bound(amountSeed, 1, 1e12)) : -int256(_bound(amountSeed, 0, bal));
            reb.rebase(who, delta);
        }
    }

    /// @notice USDC-like token: pauses it (un-pauses it when paused), or (un)blacklists an actor.
    function toggle(uint256 actorSeed, uint8 what) external {
        BlacklistableERC20 blk = BlacklistableERC20(address(tokens[3]));
        if (blk.paused() || what % 4 == 0) blk.setPaused(!blk.paused());
        else {
            address who = _actor(actorSeed);
            blk.setBlacklisted(who, !blk.blacklisted(who));
        }
    }

    // ---------------------------------------------------------------- invariants

    /// @notice What the contract owes in `token`: unclaimed deposits of unsettled channels, royalties and credits.
    function owed(address tok) public view returns (uint256 sum) {
        for (uint256 i; i < chans.length; ++i) {
            if (chans[i].terms.token != tok) continue;
            IPaymentChannels.Channel memory ch = channels.getChannel(chans[i].id);
            if (!ch.settled) sum += uint256(ch.deposit) - ch.claimed;
        }
        for (uint256 m; m < MODELS; ++m) sum += channels.royaltiesOf(modelIds[m], tok);
        for (uint256 a; a < PAYERS + 1; ++a) sum += channels.creditOf(_actor(a), tok);
    }

    function assertSolvent() external view {
        for (uint256 t; t < TOKENS; ++t) {
            address tok = address(tokens[t]);
            assertGe(IERC20(tok).balanceOf(address(channels)), owed(tok), "the contract holds at least what it owes");
        }
    }

    function assertRefusedTokensHoldNothing() external view {
        for (uint256 t; t < 2; ++t) {
            assertEq(IERC20(address(tokens[t])).balanceOf(address(channels)), 0, "fee and tax tokens never enter");
        }
    }

    // ---------------------------------------------------------------- helpers

    function _actor(uint256 seed) internal view returns (address) {
        uint256 a = seed % (PAYERS + 1);
        return a == PAYERS ? provider : payers[a];
    }

    function _sync() internal {
        vm.warp(now_);
    }

    function _count(string memory label) internal {
        ++outcomes[keccak256(bytes(label))];
    }
}
