// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PlainERC20} from "./PlainERC20.sol";

/// @title RebasingERC20
/// @notice TEST ONLY, never deployed by the project: the issuer can grow or shrink any holder's balance without a
/// transfer (a positive or negative rebase, or a clawback). Transfers themselves move exact amounts.
contract RebasingERC20 is PlainERC20 {
    constructor() PlainERC20("Rebasing Token", "REB") {}

    /// @notice Adds `delta` to (positive) or takes `-delta` from (negative) `account`'s balance.
    function rebase(address account, int256 delta) external {
        if (delta >= 0) _mint(account, uint256(delta));
        else _burn(account, uint256(-delta));
    }
}
