// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {HostileTokensHandler} from "./lib/HostileTokensHandler.sol";

/// @notice Solvency of PaymentChannels against hostile tokens: a fee-on-transfer, a sender-taxed, a rebasing and a
/// pausing/blacklisting token, under random opens, top-ups, claims, batches, closes, withdrawals of royalties and
/// credits, rebases and pauses. The contract must always hold at least what it owes every channel, every model's
/// royalties and every credited balance, per token.
contract HostileTokensInvariantTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    HostileTokensHandler internal handler;

    function setUp() public {
        handler = new HostileTokensHandler();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](12);
        selectors[0] = HostileTokensHandler.open.selector;
        selectors[1] = HostileTokensHandler.topUp.selector;
        selectors[2] = HostileTokensHandler.claim.selector;
        selectors[3] = HostileTokensHandler.claimMany.selector;
        selectors[4] = HostileTokensHandler.requestClose.selector;
        selectors[5] = HostileTokensHandler.warp.selector;
        selectors[6] = HostileTokensHandler.withdraw.selector;
        selectors[7] = HostileTokensHandler.closeCooperatively.selector;
        selectors[8] = HostileTokensHandler.withdrawRoyalties.selector;
        selectors[9] = HostileTokensHandler.withdrawCredit.selector;
        selectors[10] = HostileTokensHandler.rebase.selector;
        selectors[11] = HostileTokensHandler.toggle.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector({addr: address(handler), selectors: selectors});
    }

    /// @notice Per token: balance >= unclaimed deposits of open channels + royalties + credited balances.
    function invariant_holdsAtLeastWhatItOwes() public view {
        handler.assertSolvent();
    }

    /// @notice Fee-on-transfer and sender-taxed tokens are refused at open: the contract never holds any.
    function invariant_refusedTokensNeverEnter() public view {
        handler.assertRefusedTokensHoldNothing();
    }

    /// @notice Not vacuous: a fixed pseudo-random sequence reaches refusals, opens, paid and credited claims,
    /// settlements and credit withdrawals, with the invariants holding throughout.
    function test_handlerReachesEveryOutcome() public {
        for (uint256 i; i < 600; ++i) {
            uint256[4] memory r;
            for (uint256 k; k < 4; ++k) r[k] = uint256(keccak256(abi.encode("edgepay hostile tokens", i, k)));
            uint256 a = r[0] % 100;
            if (a < 14) handler.open(r[1], r[2], r[3], r[3] >> 8);
            else if (a < 20) handler.topUp(r[1], r[2]);
            else if (a < 40) handler.claim(r[1], r[2], address(uint160(r[3])));
            else if (a < 48) handler.claimMany(r[1], uint8(r[2]));
            else if (a < 55) handler.requestClose(r[1]);
            else if (a < 62) handler.warp(r[1]);
            else if (a < 70) handler.withdraw(r[1]);
            else if (a < 76) handler.closeCooperatively(r[1], r[2]);
            else if (a < 81) handler.withdrawRoyalties(r[1], r[2]);
            else if (a < 88) handler.withdrawCredit(r[1], r[2]);
            else if (a < 94) handler.rebase(r[1], r[2], r[3] % 2 == 0);
            else handler.toggle(r[1], uint8(r[2]));
            handler.assertSolvent();
            handler.assertRefusedTokensHoldNothing();
        }
        string[10] memory labels = [
            "open.ok",
            "open.refused.fee",
            "open.refused.tax",
            "claim.paid",
            "claim.credited",
            "claimMany.ok",
            "withdraw.ok",
            "closeCooperatively.ok",
            "withdrawCredit.ok",
            "rebase.contract.up"
        ];
        for (uint256 i; i < labels.length; ++i) {
            if (handler.outcomes(keccak256(bytes(labels[i]))) == 0) revert(string.concat("never reached: ", labels[i]));
        }
    }
}
