// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title ExactReceiver
/// @notice The `payTo` of one offering's x402 `exact` payments: a minimal clone (EIP-1167) at a CREATE2 address
/// fixed by (device, modelId, token), so a signed EIP-3009 authorization names where its money goes. Only the
/// PaymentChannels contract that deployed the implementation may move what it holds, and only to itself, where it
/// is split into royalty and payout (`IPaymentChannels.settleExact`).
contract ExactReceiver {
    using SafeERC20 for IERC20;

    /// @dev Immutable of the implementation: clones delegatecall into its code and read the same value.
    address private immutable _channels;

    /// @notice Only the PaymentChannels contract may sweep.
    /// @param caller The caller.
    error NotPaymentChannels(address caller);

    constructor() {
        _channels = msg.sender;
    }

    /// @notice Sends this receiver's whole balance of `token` to PaymentChannels and returns it.
    function sweep(address token) external returns (uint256 amount) {
        if (msg.sender != _channels) revert NotPaymentChannels(msg.sender);
        amount = IERC20(token).balanceOf(address(this));
        if (amount != 0) IERC20(token).safeTransfer(msg.sender, amount);
    }
}
