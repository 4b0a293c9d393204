// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PlainERC20} from "./PlainERC20.sol";

/// @title FeeOnTransferERC20
/// @notice TEST ONLY, never deployed by the project: burns `feeBps` of every transfer between two accounts
/// (mints and burns are exempt), so the recipient gets less than the amount sent. No permit.
contract FeeOnTransferERC20 is PlainERC20 {
    /// @notice Fee in basis points taken from every transfer.
    uint16 public immutable feeBps;

    constructor(uint16 feeBps_) PlainERC20("Fee Token", "FEE") {
        feeBps = feeBps_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        uint256 fee = value * feeBps / 10_000;
        if (fee != 0) super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
