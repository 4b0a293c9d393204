// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title TestUSDC
/// @notice A 6-decimal USDC stand-in with EIP-2612 permit and an open faucet. Deployed on local chains only.
contract TestUSDC is ERC20, ERC20Permit {
    /// @notice Most the faucet hands out per call: 10,000 tokens.
    uint256 public constant FAUCET_LIMIT = 10_000e6;

    /// @notice The faucet was asked for more than FAUCET_LIMIT.
    /// @param amount Amount requested.
    /// @param limit The limit.
    error FaucetLimitExceeded(uint256 amount, uint256 limit);

    constructor() ERC20("Test USD Coin", "tUSDC") ERC20Permit("Test USD Coin") {}

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints up to FAUCET_LIMIT to `to`.
    function faucet(address to, uint256 amount) external {
        if (amount > FAUCET_LIMIT) revert FaucetLimitExceeded(amount, FAUCET_LIMIT);
        _mint(to, amount);
    }
}
