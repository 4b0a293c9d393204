// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PlainERC20} from "./PlainERC20.sol";

/// @title SenderTaxedERC20
/// @notice TEST ONLY, never deployed by the project: the recipient gets the full amount, but the sender pays a
/// `taxBps` tax on top, burnt from its balance (mints and burns are exempt). A contract holding pooled deposits
/// in such a token loses more than it sends on every payout.
contract SenderTaxedERC20 is PlainERC20 {
    /// @notice Tax in basis points of the amount, charged to the sender.
    uint16 public immutable taxBps;

    constructor(uint16 taxBps_) PlainERC20("Taxed Token", "TAX") {
        taxBps = taxBps_;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == address(0) || to == address(0)) return;
        uint256 tax = value * taxBps / 10_000;
        if (tax != 0) super._update(from, address(0), tax);
    }
}
