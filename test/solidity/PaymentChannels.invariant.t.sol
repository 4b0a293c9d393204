// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ChannelsHandler} from "./lib/ChannelsHandler.sol";

/// @notice Invariants of PaymentChannels under random sequences of opens, top-ups, claims (single, batched,
/// replayed, forged), close requests, time jumps, withdrawals, cooperative closes and royalty withdrawals.
/// The handler itself checks every call's exact outcome; these functions check global state after each call.
contract PaymentChannelsInvariantTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    ChannelsHandler internal handler;

    function setUp() public {
        handler = new ChannelsHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](10);
        selectors[0] = ChannelsHandler.open.selector;
        selectors[1] = ChannelsHandler.topUp.selector;
        selectors[2] = ChannelsHandler.claim.selector;
        selectors[3] = ChannelsHandler.claimMany.selector;
        selectors[4] = ChannelsHandler.requestClose.selector;
        selectors[5] = ChannelsHandler.warp.selector;
        selectors[6] = ChannelsHandler.defend.selector;
        selectors[7] = ChannelsHandler.withdraw.selector;
        selectors[8] = ChannelsHandler.closeCooperatively.selector;
        selectors[9] = ChannelsHandler.withdrawRoyalties.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: selectors});
    }

    /// @notice The contract holds exactly what it owes: unclaimed deposits of open channels plus unwithdrawn royalties.
    function invariant_balanceEqualsOpenLiabilities() public view {
        handler.assertBalanceIsLiabilities();
    }

    /// @notice Tokens in = tokens out: deposits = provider payouts + royalties (accrued or withdrawn) + refunds +
    /// what remains locked in open channels, from actual balances and from the ghost totals.
    function invariant_tokensInEqualTokensOut() public view {
        handler.assertTokensInEqualTokensOut();
    }

    /// @notice Every payer, provider and model owner holds exactly what the model says it is owed.
    function invariant_actorsReceiveExactly() public view {
        handler.assertActorsGotExactly();
    }

    /// @notice On-chain channel state equals the model: claimed <= deposit, per-channel split sums to claimed,
    /// settled channels are fully accounted (claimed + refund = deposit).
    function invariant_channelsMatchModel() public view {
        handler.assertChannelsMatchModel();
    }

    /// @notice The handler is not vacuous: a fixed pseudo-random sequence of 400 actions reaches every success
    /// and every expected revert at least once, with all invariants holding at the end.
    function test_handlerReachesEveryOutcome() public {
        for (uint256 i; i < 400; ++i) {
            uint256[5] memory r;
            for (uint256 k; k < 5; ++k) r[k] = uint256(keccak256(abi.encode("edgepay handler", i, k)));
            uint256 a = r[0] % 100;
            address someone = address(uint160(r[4]));
            if (a < 12) handler.open(r[1], r[2], r[3], r[4]);
            else if (a < 18) handler.topUp(r[1], r[2]);
            else if (a < 45) handler.claim(r[1], r[2], uint16(r[3]), someone);
            else if (a < 55) handler.claimMany(r[1], uint8(r[2]), someone);
            else if (a < 63) handler.requestClose(r[1], r[2] % 4 != 0, someone);
            else if (a < 72) handler.warp(r[1], r[2] % 2 == 0);
            else if (a < 76) handler.defend(r[1]);
            else if (a < 84) handler.withdraw(r[1], someone);
            else if (a < 92) handler.closeCooperatively(r[1], r[2], uint8(r[3]), someone);
            else handler.withdrawRoyalties(r[1], r[2] % 4 != 0, someone);
        }
        string[20] memory labels = [
            "open.ok",
            "topUp.ok",
            "topUp.revert",
            "claim.ok",
            "claim.revert.NothingToClaim",
            "claim.revert.InvalidSignature",
            "claim.revert.ChallengePeriodOver",
            "claim.revert.ChannelAmountTooHigh",
            "claim.revert.ChannelIsSettled",
            "claimMany.ok",
            "claimMany.revert",
            "requestClose.ok",
            "requestClose.revert",
            "defend.ok",
            "withdraw.ok",
            "withdraw.revert",
            "closeCooperatively.ok",
            "closeCooperatively.revert",
            "withdrawRoyalties.ok",
            "withdrawRoyalties.revert"
        ];
        for (uint256 i; i < labels.length; ++i) {
            if (handler.outcomes(keccak256(bytes(labels[i]))) == 0) revert(string.concat("never reached: ", labels[i]));
        }
        handler.assertBalanceIsLiabilities();
        handler.assertTokensInEqualTokensOut();
        handler.assertActorsGotExactly();
        handler.assertChannelsMatchModel();
    }
}
