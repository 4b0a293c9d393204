// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title RoyaltyMath
/// @notice Splits a payment between the model owner's royalty and the provider.
library RoyaltyMath {
    uint256 internal constant BPS = 10_000;

    /// @notice Royalty share of `amount`, rounded down so the provider never receives less than its share.
    function royalty(uint256 amount, uint16 royaltyBps) internal pure returns (uint256) {
        return amount * royaltyBps / BPS;
    }
}
