// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {PlainERC20} from "./PlainERC20.sol";

/// @title BlacklistableERC20
/// @notice TEST ONLY, never deployed by the project: like USDC, the issuer can pause all transfers and blacklist
/// accounts (a blacklisted account can neither send nor receive). `setBomb` makes every failing transfer revert
/// with a large revert reason, and `setGasBurn` makes it burn all its gas, to test callers against both.
contract BlacklistableERC20 is PlainERC20 {
    /// @notice Reverts of a paused transfer.
    error TokenPaused();
    /// @notice Reverts of a transfer from or to a blacklisted account.
    error Blacklisted(address account);

    bool public paused;
    mapping(address => bool) public blacklisted;
    uint256 private _bomb;
    bool private _burnGas;

    constructor() PlainERC20("Blacklistable Token", "BLK") {}

    function setPaused(bool on) external {
        paused = on;
    }

    function setBlacklisted(address account, bool on) external {
        blacklisted[account] = on;
    }

    /// @notice While on, a refused transfer burns all the gas it was given instead of reverting cleanly.
    function setGasBurn(bool on) external {
        _burnGas = on;
    }

    /// @notice When non-zero, a refused transfer reverts with `size` bytes of revert data instead of a custom error.
    function setBomb(uint256 size) external {
        _bomb = size;
    }

    function _update(address from, address to, uint256 value) internal override {
        // Mints and burns (the test faucet) are exempt, so tests can fund accounts whatever the switches say.
        bool transfer = from != address(0) && to != address(0);
        if (transfer && (paused || blacklisted[from] || blacklisted[to])) {
            if (_burnGas) {
                assembly ("memory-safe") {
                    invalid()
                }
            }
            uint256 size = _bomb;
            if (size != 0) {
                assembly ("memory-safe") {
                    revert(0, size)
                }
            }
            if (paused) revert TokenPaused();
            revert Blacklisted(blacklisted[from] ? from : to);
        }
        super._update(from, to, value);
    }
}
