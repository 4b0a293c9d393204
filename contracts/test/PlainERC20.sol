// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title PlainERC20
/// @notice TEST ONLY, never deployed by the project: a 6-decimal ERC-20 without EIP-2612 permit and with an
/// unlimited faucet, so tests reach the permit fallback paths and amounts near the uint96 limit.
contract PlainERC20 is ERC20 {
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {}

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` to `to`, without limit.
    function faucet(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
